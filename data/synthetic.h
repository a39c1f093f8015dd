// SyntheticDataset: random images of a given size and class count, deterministic per index (for
// benchmarks that must not measure disk or decode).
#pragma once

#include "data/dataset.h"

namespace bnx::data {

class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(int64_t size, int64_t num_classes, int64_t image_size, int64_t channels, uint64_t seed);
  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return num_classes_; }
  int64_t channels() const override { return channels_; }
  int64_t label(int64_t index) const override;
  Sample load(int64_t index) const override;
  std::string describe(int64_t index) const override { return "synthetic[" + std::to_string(index) + "]"; }

 private:
  int64_t size_, num_classes_, image_size_, channels_;
  uint64_t seed_;
};

}  // namespace bnx::data
