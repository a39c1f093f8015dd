// Checkpoints: model parameters and every buffer (BN running_mean, running_var,
// num_batches_tracked), optimizer state, step, epoch, the CPU and CUDA RNG states, the resolved config,
// world size and versions, behind a header with the payload size and a CRC-32. Written
// atomically (temporary name, fsync, rename, fsync of the folder); a damaged file is detected by
// its size or checksum and reported by name.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "train/errors.h"

namespace bnx::train {

struct CheckpointMeta {
  int64_t step = 0;         // optimizer steps taken
  int64_t examples = 0;     // training examples seen
  int world_size = 1;
  std::string model_name;
  std::string config_yaml;  // the resolved config
  std::string bnx_version = BNX_VERSION;
  std::string torch_version;
  /// fp16 training: the loss scaler's scale and clean-step count (0 when not used).
  double loss_scale = 0;
  int64_t loss_scale_clean_steps = 0;
  /// The model's input channels and classes (0 in checkpoints of bnx before 0.2: then they come
  /// from the data set), so that a checkpoint rebuilds its model without the data.
  int64_t in_channels = 0;
  int64_t num_classes = 0;
};

struct Checkpoint {
  std::string path;
  CheckpointMeta meta;
  NamedTensors state;                                        // PyTorch state_dict order and names
  std::optional<torch::serialize::InputArchive> optimizer;   // absent when not saved
  torch::Tensor rng_state;                                   // CPU generator state (may be undefined)
  std::vector<torch::Tensor> cuda_rng_states;                // one per GPU of the saving process (dropout on the GPU)
};

/// Writes `state` (and the optimizer when given) to `path` atomically. A failed write (a full disk)
/// removes its temporary file, leaves every existing checkpoint as it was, and throws naming the
/// file and the system's reason.
void write_checkpoint(const std::string& path, const NamedTensors& state, torch::optim::Optimizer* optimizer,
                      const CheckpointMeta& meta);
/// Reads and verifies `path`; throws CheckpointError naming the file and the problem.
Checkpoint read_checkpoint(const std::string& path);

/// Copies the checkpoint's tensors into `state` (the model's, same names); an error names the
/// first missing, unexpected or differently shaped entry, and says so when BN statistics are missing.
void load_state(const Checkpoint& checkpoint, const NamedTensors& state);

/// The checkpoint a run starts from: `resume` "" = none (a checkpoint already in `dir` is then an
/// error, so that no run is overwritten by accident), "auto" = the newest valid one in `dir` (none
/// is fine), else that file.
std::optional<Checkpoint> resume_checkpoint(const std::string& dir, const std::string& resume, std::ostream& log);

/// "ckpt_00001234.bnx" for step 1234.
std::string checkpoint_name(int64_t step);
/// Checkpoints in `dir`, newest (highest step) first.
std::vector<std::string> list_checkpoints(const std::string& dir);
/// The newest checkpoint of `dir` that verifies; damaged ones are reported on `log` and skipped.
std::optional<Checkpoint> latest_checkpoint(const std::string& dir, std::ostream& log);
/// Deletes all but the newest `keep` checkpoints of `dir`.
void prune_checkpoints(const std::string& dir, int64_t keep);

/// The CPU generator (dropout, init) state, and restoring it.
torch::Tensor cpu_rng_state();
void set_cpu_rng_state(const torch::Tensor& state);
/// The CUDA generators' states (none without a GPU), and restoring them (as many as both have).
std::vector<torch::Tensor> cuda_rng_states();
void set_cuda_rng_states(const std::vector<torch::Tensor>& states);

}  // namespace bnx::train
