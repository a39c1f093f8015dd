// The one setup path of bnx: from plain options to a ready rank (threads, device, the device's
// communicator, data, model with its SyncBatchNorm statistics group). `train`, `eval`, `export`
// and `bench` all start here (as torchvision's --test-only goes through training's setup).
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "dist/communicator.h"
#include "models/model.h"
#include "train/options.h"

namespace bnx::train {

/// What a session builds besides device and communicator.
struct SessionParts {
  /// Open both data splits (else the model's channels and classes come from `model_dims`).
  bool data = true;
  /// Without data: the model's input channels and classes (a checkpoint's).
  int64_t in_channels = 0;
  int64_t num_classes = 0;
};

struct Session {
  Config config;
  torch::Device device = torch::kCPU;
  /// Carries the device's tensors between ranks (NCCL on CUDA, MPI on the CPU).
  std::shared_ptr<dist::Communicator> world;
  /// Absent without SessionParts::data.
  std::shared_ptr<data::Dataset> train_set, val_set;
  std::shared_ptr<data::Transform> train_transform, eval_transform;
  /// The config's loader options; on CUDA batches come as uint8 in pinned memory and are
  /// normalized on the GPU.
  data::LoaderOptions loader;
  /// On `device`; norm sync layers reduce over this rank's statistics group.
  std::shared_ptr<models::Model> model;
};

/// Builds a session. Collective over `world`: a failure on any rank (a missing data root, a GPU
/// that is not there) ends every rank with an error (dist::agree_on_failure). Seeds LibTorch's
/// generator with train.seed before building the model, so the same config gives the same model.
Session open_session(const Config& config, std::shared_ptr<dist::Communicator> world, const SessionParts& parts = {});

/// Intra-op threads for this rank: the config's, or cores / ranks on this node.
int threads_for(const Config& config, const dist::Communicator& comm);

}  // namespace bnx::train
