// The engine's error types. Errors caused by the user's input (config values, data, checkpoints)
// are InputError: the command line turns them into exit code 2 on every rank. Anything else is a
// runtime failure (exit code 1). data::DataError (bad data) counts as input too.
#pragma once

#include <stdexcept>

namespace bnx::train {

/// A problem with the user's input; the message names the culprit (key, file, value).
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A config value that cannot work (key, file:line when known, what is allowed).
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

/// A checkpoint that cannot be read or does not fit the model (the file and the entry).
class CheckpointError : public InputError {
 public:
  using InputError::InputError;
};

/// A training failure that is not a bug, such as a non-finite loss.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bnx::train
