// Loader: N worker threads turn lists of example indices into batches, a bounded queue of ready
// batches, delivered in order. Augmentation randomness is keyed by (seed, epoch, example index),
// so batches are identical for any number of threads or ranks. A file that fails to decode is
// reported once, counted, and replaced by the next index that decodes; more than
// `max_failure_fraction` failures stop the epoch with an error. A worker's exception reaches the
// consumer at the batch it belongs to; destruction stops and joins every worker.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace bnx::data {

struct LoaderOptions {
  int threads = 2;
  /// Ready batches kept ahead of the consumer.
  int prefetch = 4;
  /// Fraction of failed examples (of those loaded in this loader's life) that stops with an error.
  double max_failure_fraction = 0.01;
  /// Output uint8 (C, H, W) batches, not normalized (for a GPU-side normalize).
  bool uint8_output = false;
  /// Batches in pinned host memory (needs a CUDA build; for asynchronous copies to the GPU).
  bool pin_memory = false;
  /// Evaluation with 10 crops per example: images are (10 B, C, S, S), example k's crops at rows
  /// 10k..10k+9 (see Transform::apply_ten_crop).
  bool ten_crop = false;
};

struct Batch {
  torch::Tensor images;  // (B, C, S, S) float32 normalized, or uint8; (10 B, C, S, S) with ten_crop
  torch::Tensor labels;  // (B,) int64
  std::vector<int64_t> indices;
};

class Loader {
 public:
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform, LoaderOptions options,
         std::vector<std::vector<int64_t>> batches, uint64_t seed, int64_t epoch);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// The next batch in order; nullopt after the last. Rethrows a worker's error.
  std::optional<Batch> next();
  int64_t failures() const;

 private:
  void work();
  Batch build(const std::vector<int64_t>& indices);
  // Loads example `index` into `out`, replacing it with following indices if it fails to decode.
  int64_t load_into(int64_t index, void* out);

  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Transform> transform_;
  LoaderOptions options_;
  std::vector<std::vector<int64_t>> batches_;
  uint64_t seed_;
  int64_t epoch_;

  mutable std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::map<size_t, Batch> done_;
  std::map<size_t, std::exception_ptr> errors_;
  size_t next_job_ = 0, next_out_ = 0;
  bool stop_ = false;
  int64_t loaded_ = 0, failures_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace bnx::data
