// DistributedSampler (see sampler.h).
#include "data/sampler.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "data/dataset.h"
#include "data/random.h"

namespace bnx::data {

DistributedSampler::DistributedSampler(int64_t dataset_size, int64_t global_batch, int rank, int world_size,
                                       uint64_t seed, bool shuffle)
    : dataset_size_(dataset_size),
      global_batch_(global_batch),
      rank_(rank),
      world_size_(world_size),
      seed_(seed),
      shuffle_(shuffle) {
  if (global_batch < 1 || world_size < 1 || rank < 0 || rank >= world_size) {
    throw DataError("sampler: invalid batch " + std::to_string(global_batch) + " / rank " +
                                std::to_string(rank) + " of " + std::to_string(world_size));
  }
  if (global_batch > dataset_size) {
    throw DataError("train.batch_size: global batch " + std::to_string(global_batch) + " exceeds the data set size " +
                                std::to_string(dataset_size));
  }
}

std::vector<int64_t> DistributedSampler::permutation(int64_t epoch) const {
  std::vector<int64_t> order(dataset_size_);
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle_) return order;
  Rng rng({seed_, static_cast<uint64_t>(epoch), 0x5a4d9e});  // Fisher-Yates
  for (int64_t i = dataset_size_ - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  return order;
}

std::vector<int64_t> DistributedSampler::global_indices(int64_t epoch, int64_t step) const {
  auto order = permutation(epoch);
  return {order.begin() + step * global_batch_, order.begin() + (step + 1) * global_batch_};
}

std::pair<int64_t, int64_t> DistributedSampler::shard(int rank) const {
  const int64_t base = global_batch_ / world_size_, extra = global_batch_ % world_size_;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<int64_t> DistributedSampler::local_indices(int64_t epoch, int64_t step) const {
  auto order = permutation(epoch);
  const auto [begin, end] = shard(rank_);
  return {order.begin() + step * global_batch_ + begin, order.begin() + step * global_batch_ + end};
}

std::vector<std::vector<int64_t>> DistributedSampler::local_epoch(int64_t epoch, int64_t first_step) const {
  auto order = permutation(epoch);
  std::vector<std::vector<int64_t>> batches;
  const auto [begin, end] = shard(rank_);
  for (int64_t step = first_step; step < steps_per_epoch(); ++step) {
    batches.emplace_back(order.begin() + step * global_batch_ + begin, order.begin() + step * global_batch_ + end);
  }
  return batches;
}

std::pair<int64_t, int64_t> eval_shard(int64_t dataset_size, int rank, int world_size) {
  return {dataset_size * rank / world_size, dataset_size * (rank + 1) / world_size};
}

}  // namespace bnx::data
