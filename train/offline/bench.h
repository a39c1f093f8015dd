// `bnx bench`: benchmarks whose numbers go into docs/benchmarks.md (never timed unit tests). Each
// prints a Markdown table row set and checks what it times where it can.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "dist/communicator.h"
#include "models/model.h"
#include "train/device.h"
#include "train/options.h"
#include "train/precision.h"

namespace bnx::train {

/// Step time of ResNet-18 at 64x64, `batch` per rank, SyncBatchNorm vs per-rank BN, interleaved
/// (two Trainers built by the run's setup, train/session.h); also collectives and bytes per step.
int bench_syncbn(std::shared_ptr<dist::Communicator> world, int iterations, int64_t batch);
/// Forward and forward+backward time of `model` at 224 px, batch 16, float32.
int bench_model(const std::string& model, int iterations, int threads);
struct BenchTrainOptions {
  DeviceKind device = DeviceKind::kAuto;
  Precision precision = Precision::kFloat32;
  models::Norm norm = models::Norm::kSync;
  int64_t batch = 128;  // per rank
  int iterations = 20;
  int64_t size = 224;
  int threads = 0;  // intra-op threads per rank, 0: as `bnx train` chooses
  /// A training config to take the model from (its options, input channels and size, classes)
  /// instead of `model` at `size` px with 1000 classes; its batch and norm are replaced by the above.
  std::optional<Config> config;
  /// SyncBatchNorm runs its distributed function over dist::MirrorCommunicator (a simulated second
  /// rank holding the same shard), so one device times that function's compute.
  bool mirror = false;
  /// How the command line spells precision and norm (for the output line).
  std::string precision_name = "fp32", norm_name = "sync";
};
/// Training throughput of `model` (1000 classes, or the model of `options.config`; synthetic
/// normalized input already on the device):
/// images/s per rank of the Trainer's update (autocast forward, backward, gradient averaging,
/// SGD step, the metrics allreduce), median over iterations after a warm-up; one JSON line.
int bench_train(const std::string& model, const BenchTrainOptions& options, std::shared_ptr<dist::Communicator> world);
/// Images per second of the training pipeline over a folder of JPEGs with 1..threads workers, and
/// of decode alone.
int bench_loader(const std::string& folder, int images, int max_threads);

}  // namespace bnx::train
