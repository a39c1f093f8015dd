// Synthetic images (see synthetic.h).
#include "data/synthetic.h"

#include <torch/torch.h>

#include "data/random.h"

namespace bnx::data {

SyntheticDataset::SyntheticDataset(int64_t size, int64_t num_classes, int64_t image_size, int64_t channels,
                                   uint64_t seed)
    : size_(size), num_classes_(num_classes), image_size_(image_size), channels_(channels), seed_(seed) {
  if (size < 1 || num_classes < 1 || image_size < 1 || (channels != 1 && channels != 3)) {
    throw DataError("synthetic data set: size, classes and image size must be >= 1 and channels 1 or 3");
  }
}

Sample SyntheticDataset::load(int64_t index) const {
  Rng rng({seed_, static_cast<uint64_t>(index)});
  const int s = static_cast<int>(image_size_);
  cv::Mat image(s, s, channels_ == 3 ? CV_8UC3 : CV_8UC1);
  for (auto* p = image.data; p != image.dataend; ++p) *p = static_cast<uint8_t>(rng.next() >> 56);
  return {image, label(index)};
}

int64_t SyntheticDataset::label(int64_t index) const {
  return static_cast<int64_t>(Rng({seed_, static_cast<uint64_t>(index), 1}).below(num_classes_));
}

}  // namespace bnx::data
