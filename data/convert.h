// Converts an in-memory data set (e.g. Fashion-MNIST from IDX) into an ImageNet-style folder of
// JPEGs: train/<wnid-like class>/<name>.JPEG and a flat val/ with LOC_val_solution.csv, so the
// ImageNet code path can be exercised end to end on real labelled images.
#pragma once

#include <string>

#include "data/dataset.h"

namespace bnx::data {

struct ConvertOptions {
  /// At most this many examples per split (0 = all).
  int64_t limit = 0;
  /// Output side length (images are upscaled with bilinear interpolation; 0 = keep).
  int64_t size = 0;
  int quality = 90;
};

/// Class folder name of class `label` ("n00000003"): sorts in label order.
std::string class_folder_name(int64_t label);

/// Writes `train` and `val` under `root` (created; existing files are overwritten). Returns the
/// number of images written.
int64_t write_image_folder(const Dataset& train, const Dataset& val, const std::string& root,
                           const ConvertOptions& options);

}  // namespace bnx::data
