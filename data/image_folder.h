// ImageFolder: an ImageNet-style tree. train/<class>/<file> (class index = sorted folder names, as
// torchvision); val/ either in class folders or flat with a labels file (LOC_val_solution.csv,
// "ImageId,PredictionString" whose first token is the class folder name, or "filename label"
// lines with a class name or index). Indexed with one directory scan per folder; files are decoded
// with OpenCV when loaded (any format it reads).
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace bnx::data {

class ImageFolder : public Dataset {
 public:
  struct Entry {
    std::string path;
    int64_t label;
  };
  /// `classes`: sorted class folder names (from train/), used to map validation labels.
  ImageFolder(std::vector<Entry> entries, std::vector<std::string> classes);
  /// root/train or root/val (see the file comment); `val_labels` overrides the labels file.
  static std::shared_ptr<ImageFolder> open(const std::string& root, bool train, const std::string& val_labels = "");

  int64_t size() const override { return static_cast<int64_t>(entries_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  int64_t channels() const override { return 3; }
  int64_t label(int64_t index) const override { return entries_.at(index).label; }
  Sample load(int64_t index) const override;
  std::string describe(int64_t index) const override { return entries_.at(index).path; }
  std::vector<uint8_t> encoded(int64_t index) const override;
  const std::vector<Entry>& entries() const { return entries_; }
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  std::vector<Entry> entries_;
  std::vector<std::string> classes_;
};

}  // namespace bnx::data
