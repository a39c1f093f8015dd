// Dataset: indexed labelled images (decoded to HWC uint8 RGB or gray), and the options and
// factory that build one of the three kinds bnx reads: IDX (MNIST / Fashion-MNIST), an
// ImageNet-style folder of images, or synthetic images for benchmarks.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bnx::data {

/// Bad or unreadable data; the message names the file and the problem.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Sample {
  cv::Mat image;  // (H, W, C) uint8, C = 1 or 3 (RGB)
  int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  /// Channels of every image (1 or 3).
  virtual int64_t channels() const = 0;
  virtual int64_t label(int64_t index) const = 0;
  /// Decodes example `index`; throws DataError naming the file when it cannot.
  virtual Sample load(int64_t index) const = 0;
  /// The encoded bytes of example `index` when it is a file (so a transform can decode it at a
  /// reduced size); empty for in-memory data sets.
  virtual std::vector<uint8_t> encoded(int64_t) const { return {}; }
  /// Where example `index` comes from (for messages).
  virtual std::string describe(int64_t index) const = 0;
};

enum class DatasetKind { kIdx, kImageFolder, kSynthetic };

struct DatasetOptions {
  DatasetKind kind = DatasetKind::kIdx;
  /// IDX: folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
  /// image folder: folder with train/<class>/ and val/ (class folders or flat + labels file).
  std::string root = "/usr/share/datasets/fashion-mnist";
  /// Image folder: labels file for a flat val/ (LOC_val_solution.csv or "filename label" lines);
  /// empty = look for val/LOC_val_solution.csv, val/labels.txt, else class folders.
  std::string val_labels;
  /// Synthetic: number of examples, classes, image size and channels.
  int64_t synthetic_size = 1024;
  int64_t synthetic_classes = 10;
  int64_t synthetic_image_size = 224;
  int64_t synthetic_channels = 3;
};

/// The training (`train` true) or validation split.
std::shared_ptr<Dataset> make_dataset(const DatasetOptions& options, bool train);

}  // namespace bnx::data
