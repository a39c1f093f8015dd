// Image transforms with OpenCV. Training: Inception-style random resized crop (as torchvision's
// RandomResizedCrop) or pad-and-random-crop for small images, horizontal flip, optional
// photometric distortion (off by default: the paper reduced distortions for BN). Evaluation:
// resize the short side, center crop. Both normalize to float32 CHW (or keep uint8 CHW).
// Encoded JPEGs: only the crop is decoded, at 1/2, 1/4 or 1/8 size when it still has enough pixels.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data/random.h"

namespace bnx::data {

struct TransformOptions {
  /// Output side length (train and eval).
  int64_t crop_size = 224;
  /// Train: random resized crop (else pad-and-random-crop of crop_size).
  bool random_resized_crop = true;
  double min_area = 0.08, max_area = 1.0;
  double min_aspect = 3.0 / 4.0, max_aspect = 4.0 / 3.0;
  /// Train without random resized crop: zero padding before the random crop.
  int64_t pad = 0;
  bool flip = true;
  /// Photometric distortion: brightness, contrast, saturation factors in [1-x, 1+x] and AlexNet's
  /// PCA lighting noise with this std.
  bool photometric = false;
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, lighting = 0.1;
  /// Eval: short side resized to this, then the center crop_size crop.
  int64_t resize = 256;
  /// Per-channel mean and std of [0, 1] pixels (ImageNet's by default).
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
  /// Decode JPEGs at reduced size when possible.
  bool reduced_decode = true;
};

/// A crop rectangle in pixel coordinates of the full image.
struct CropBox {
  int x = 0, y = 0, width = 0, height = 0;
};

/// torchvision's RandomResizedCrop box: 10 tries of area in [min_area, max_area] x image area and
/// log-uniform aspect ratio, then a center crop with the ratio clamped to the range.
CropBox random_resized_crop_box(int height, int width, Rng& rng, const TransformOptions& options);
/// The region that "resize short side to `resize`, center crop `crop`" keeps, in full coordinates.
CropBox center_crop_box(int height, int width, int64_t resize, int64_t crop);

/// Pixel normalization as one affine map per channel, written once for the CPU loader and the
/// device-side path: (pixel / max_value - mean) / std = pixel * scale[c] + offset[c], for pixels
/// in [0, max_value] (255 for uint8, 1 for float).
struct PixelAffine {
  std::vector<float> scale, offset;  // (C,)
};
PixelAffine pixel_affine(const std::vector<double>& mean, const std::vector<double>& std, double max_value);

class Transform {
 public:
  /// `channels`: 1 or 3, the output channels (mean/std must have as many entries).
  Transform(TransformOptions options, bool train, int64_t channels);

  /// Writes one example, (channels, crop_size, crop_size), to `out` (float32 normalized, or uint8
  /// when `out_uint8`). `image`: (H, W, C) uint8, RGB when C == 3.
  void apply(const cv::Mat& image, Rng& rng, void* out, bool out_uint8 = false) const;
  /// Same from encoded bytes (JPEG, PNG, ...); for a JPEG the box is drawn from its header and only
  /// the box is decoded (at reduced size when possible). Throws DataError naming `name` when the
  /// bytes do not decode.
  void apply_encoded(const std::vector<uint8_t>& bytes, const std::string& name, Rng& rng, void* out,
                     bool out_uint8 = false) const;

  /// Evaluation with 10 crops: the short side resized to `resize`, then the four corner and the
  /// center crop_size crops and their horizontal mirrors, written to `out` as 10 consecutive
  /// (channels, crop_size, crop_size) examples (float32 normalized, or uint8).
  void apply_ten_crop(const cv::Mat& image, void* out, bool out_uint8 = false) const;
  /// Same from encoded bytes; throws DataError naming `name` when they do not decode.
  void apply_ten_crop_encoded(const std::vector<uint8_t>& bytes, const std::string& name, void* out,
                              bool out_uint8 = false) const;

  const TransformOptions& options() const { return options_; }
  int64_t channels() const { return channels_; }
  bool train() const { return train_; }

 private:
  CropBox choose_box(int height, int width, Rng& rng) const;
  // Crops `box` from `image` (RGB or gray), resizes to the output size, flips/distorts, writes out.
  // `mirror` forces the horizontal flip (ten-crop evaluation).
  void finish(const cv::Mat& image, const CropBox& box, Rng& rng, void* out, bool out_uint8, bool mirror = false) const;

  TransformOptions options_;
  bool train_;
  int64_t channels_;
};

}  // namespace bnx::data
