// DistributedSampler: which examples each rank reads at each step. One permutation per epoch from
// (seed, epoch); global step t of an epoch takes permutation[t*B, (t+1)*B) with B the global
// batch, and rank r its contiguous r-th shard of it: B / W examples, one more on the first B % W
// ranks (any W: shards differ by at most one, and when W > B the last ranks get empty shards for
// every step, yet still take part in every collective). So every global step holds the same
// examples at any world size, and any (epoch, step) is reachable directly (exact resume, also on
// another number of ranks). Evaluation shards cover the validation set exactly once across
// ranks, without padding.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace bnx::data {

class DistributedSampler {
 public:
  /// Throws DataError when B exceeds the data set (or the arguments are out of range).
  DistributedSampler(int64_t dataset_size, int64_t global_batch, int rank, int world_size, uint64_t seed,
                     bool shuffle = true);

  /// Full global batches per epoch (the last partial batch is dropped).
  int64_t steps_per_epoch() const { return dataset_size_ / global_batch_; }
  /// [begin, end) of rank `rank`'s shard within a global batch.
  std::pair<int64_t, int64_t> shard(int rank) const;
  /// This rank's shard size (the same at every step).
  int64_t local_batch() const { return shard(rank_).second - shard(rank_).first; }
  /// The permutation of epoch `epoch` (identity without shuffling).
  std::vector<int64_t> permutation(int64_t epoch) const;
  /// Indices of global step `step` of `epoch`, all ranks (B of them).
  std::vector<int64_t> global_indices(int64_t epoch, int64_t step) const;
  /// This rank's shard of global step `step`.
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
