// IDX files (MNIST, Fashion-MNIST), gzipped or not, read whole and validated: magic, dimensions,
// truncation and image/label count mismatches are errors naming the file.
#pragma once

#include <torch/torch.h>

#include "data/dataset.h"

namespace bnx::data {

/// (N, rows, cols) uint8 from an idx3 file.
torch::Tensor read_idx_images(const std::string& path);
/// (N,) int64 from an idx1 file.
torch::Tensor read_idx_labels(const std::string& path);

class IdxDataset : public Dataset {
 public:
  /// Reads `images` and `labels` (paths); the counts must agree.
  IdxDataset(const std::string& images, const std::string& labels);
  /// `root`/{train|t10k}-{images-idx3|labels-idx1}-ubyte, with or without .gz.
  static std::shared_ptr<IdxDataset> from_folder(const std::string& root, bool train);

  int64_t size() const override { return labels_.size(0); }
  int64_t num_classes() const override { return num_classes_; }
  int64_t channels() const override { return 1; }
  int64_t label(int64_t index) const override { return labels_.data_ptr<int64_t>()[index]; }
  Sample load(int64_t index) const override;
  std::string describe(int64_t index) const override;
  const torch::Tensor& images() const { return images_; }  // (N, H, W) uint8
  const torch::Tensor& labels() const { return labels_; }  // (N,) int64

 private:
  std::string path_;
  torch::Tensor images_, labels_;
  int64_t num_classes_ = 0;
};

}  // namespace bnx::data
