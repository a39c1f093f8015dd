// The YAML edge of bnx: reads a run's config file into train::Config (the only code that includes
// yaml-cpp). One table of typed fields drives parsing, validation, --set overrides, defaults,
// --print-config and --help: an unknown key names the file, line and nearest valid key; a bad value
// names the key, the value and what is allowed; a missing required key is named; an unknown
// model.name lists the valid ones. Errors are train::ConfigError (exit code 2).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "train/options.h"

namespace bnx::cli {

/// How configs (and the command line) spell the enum choices.
const std::vector<std::pair<std::string, models::Norm>>& norm_names();
const std::vector<std::pair<std::string, train::DeviceKind>>& device_names();
const std::vector<std::pair<std::string, train::Precision>>& precision_names();

/// Reads `path` (YAML) and applies `overrides` ("section.key=value", YAML values).
train::Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
/// Parses YAML text (named `source` in messages).
train::Config parse_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides = {});
/// The fully resolved config as YAML; parse_config(to_yaml(c)) gives c back.
std::string to_yaml(const train::Config& config);
/// Every valid key with its help text (for --help).
std::string describe_keys();

}  // namespace bnx::cli
