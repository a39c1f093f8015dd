// DistributedSampler: which examples each rank reads at each step. One permutation per epoch from
// (seed, epoch); global step t of an epoch takes permutation[t*B, (t+1)*B) with B the global
// batch, and rank r its contiguous r-th 1/W slice. So every global step holds the same examples at
// any world size, and any (epoch, step) is reachable directly (exact resume). Evaluation shards
// cover the validation set exactly once across ranks, without padding.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bnx::data {

class DistributedSampler {
 public:
  /// Throws std::invalid_argument when B is not divisible by W or exceeds the data set.
  DistributedSampler(int64_t dataset_size, int64_t global_batch, int rank, int world_size, uint64_t seed,
                     bool shuffle = true);

  /// Full global batches per epoch (the last partial batch is dropped).
  int64_t steps_per_epoch() const { return dataset_size_ / global_batch_; }
  int64_t local_batch() const { return global_batch_ / world_size_; }
  /// The permutation of epoch `epoch` (identity without shuffling).
  std::vector<int64_t> permutation(int64_t epoch) const;
  /// Indices of global step `step` of `epoch`, all ranks (B of them).
  std::vector<int64_t> global_indices(int64_t epoch, int64_t step) const;
  /// This rank's slice of global step `step` (B / W indices).
  std::vector<int64_t> local_indices(int64_t epoch, int64_t step) const;
  /// This rank's local batches for steps [first_step, steps_per_epoch()) of `epoch`.
  std::vector<std::vector<int64_t>> local_epoch(int64_t epoch, int64_t first_step) const;

 private:
  int64_t dataset_size_, global_batch_;
  int rank_, world_size_;
  uint64_t seed_;
  bool shuffle_;
};

/// [begin, end) of the validation examples rank `rank` of `world_size` evaluates.
std::pair<int64_t, int64_t> eval_shard(int64_t dataset_size, int rank, int world_size);

}  // namespace bnx::data
