// Transforms (see transforms.h).
#include "data/transforms.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "data/dataset.h"
#include "data/decode.h"

namespace bnx::data {

CropBox random_resized_crop_box(int height, int width, Rng& rng, const TransformOptions& o) {
  const double area = static_cast<double>(height) * width;
  const double log_lo = std::log(o.min_aspect), log_hi = std::log(o.max_aspect);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(o.min_area, o.max_area);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const int y = static_cast<int>(rng.below(height - h + 1));
      const int x = static_cast<int>(rng.below(width - w + 1));
      return {x, y, w, h};
    }
  }
  // Fallback: the whole image, with its aspect ratio clamped to the range, centered.
  const double ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (ratio < o.min_aspect) {
    h = std::max(1, static_cast<int>(std::lround(w / o.min_aspect)));
  } else if (ratio > o.max_aspect) {
    w = std::max(1, static_cast<int>(std::lround(h * o.max_aspect)));
  }
  w = std::min(w, width);
  h = std::min(h, height);
  return {(width - w) / 2, (height - h) / 2, w, h};
}

CropBox center_crop_box(int height, int width, int64_t resize, int64_t crop) {
  // The short side maps to `resize`; a crop of `crop` output pixels is crop * short / resize input pixels.
  const double scale = static_cast<double>(std::min(height, width)) / static_cast<double>(resize);
  const int w = std::clamp(static_cast<int>(std::lround(crop * scale)), 1, width);
  const int h = std::clamp(static_cast<int>(std::lround(crop * scale)), 1, height);
  return {(width - w) / 2, (height - h) / 2, w, h};
}

PixelAffine pixel_affine(const std::vector<double>& mean, const std::vector<double>& std, double max_value) {
  PixelAffine a;
  for (size_t c = 0; c < mean.size(); ++c) {
    a.scale.push_back(static_cast<float>((1.0 / max_value) / std[c]));
    a.offset.push_back(static_cast<float>(-mean[c] / std[c]));
  }
  return a;
}

Transform::Transform(TransformOptions options, bool train, int64_t channels)
    : options_(std::move(options)), train_(train), channels_(channels) {
  if (channels_ != 1 && channels_ != 3) throw DataError("transform: channels must be 1 or 3");
  if (options_.mean.size() != static_cast<size_t>(channels_) || options_.std.size() != static_cast<size_t>(channels_)) {
    throw DataError("transform: mean and std need " + std::to_string(channels_) + " values for " +
                    std::to_string(channels_) + "-channel images");
  }
  if (options_.crop_size < 1 || options_.resize < 1) throw DataError("transform: crop and resize sizes must be >= 1");
}

CropBox Transform::choose_box(int height, int width, Rng& rng) const {
  if (!train_) return center_crop_box(height, width, options_.resize, options_.crop_size);
  if (options_.random_resized_crop) return random_resized_crop_box(height, width, rng, options_);
  // Pad-and-crop: a crop_size window over the image padded by `pad` (may extend past the edges).
  const int s = static_cast<int>(options_.crop_size), pad = static_cast<int>(options_.pad);
  const int x = static_cast<int>(rng.below(std::max(0, width + 2 * pad - s) + 1)) - pad;
  const int y = static_cast<int>(rng.below(std::max(0, height + 2 * pad - s) + 1)) - pad;
  return {x, y, s, s};
}

void Transform::apply(const cv::Mat& image, Rng& rng, void* out, bool out_uint8) const {
  if (image.empty()) throw DataError("transform: empty image");
  finish(image, choose_box(image.rows, image.cols, rng), rng, out, out_uint8);
}

void Transform::apply_encoded(const std::vector<uint8_t>& bytes, const std::string& name, Rng& rng, void* out,
                              bool out_uint8) const {
  const int c = static_cast<int>(channels_);
  JpegInfo info;
  if (!read_jpeg_info(bytes, info)) {  // PNG, BMP, ...: decode all, then choose the box
    cv::Mat image = decode_image(bytes, c, name);
    finish(image, choose_box(image.rows, image.cols, rng), rng, out, out_uint8);
    return;
  }
  // A JPEG: the box comes first (from the header's size), then only its pixels are decoded, at the
  // largest reduction r in {8, 4, 2} that keeps the box at least the output size.
  const int width = info.display_width(), height = info.display_height();
  const CropBox box = choose_box(height, width, rng);
  cv::Rect region(box.x, box.y, box.width, box.height);
  if ((region & cv::Rect(0, 0, width, height)) != region) {  // pad-and-crop past the edges
    cv::Rect all(0, 0, width, height);
    finish(decode_jpeg_region(bytes, info, c, 1, all, name), box, rng, out, out_uint8);
    return;
  }
  const int s = static_cast<int>(options_.crop_size);
  int r = 1;
  for (int candidate : {8, 4, 2}) {
    if (options_.reduced_decode && box.width / candidate >= s && box.height / candidate >= s) {
      r = candidate;
      break;
    }
  }
  cv::Mat image = decode_jpeg_region(bytes, info, c, r, region, name);
  finish(image, {region.x, region.y, region.width, region.height}, rng, out, out_uint8);
}

void Transform::apply_ten_crop(const cv::Mat& image, void* out, bool out_uint8) const {
  if (image.empty()) throw DataError("transform: empty image");
  const int s = static_cast<int>(options_.crop_size);
  const double scale = static_cast<double>(options_.resize) / std::min(image.rows, image.cols);
  cv::Mat resized = image;
  const int w = std::max(s, static_cast<int>(std::lround(image.cols * scale)));
  const int h = std::max(s, static_cast<int>(std::lround(image.rows * scale)));
  if (w != image.cols || h != image.rows) {
    cv::resize(image, resized, cv::Size(w, h), 0, 0, scale < 0.5 ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const CropBox boxes[5] = {{0, 0, s, s}, {w - s, 0, s, s}, {0, h - s, s, s}, {w - s, h - s, s, s},
                            {(w - s) / 2, (h - s) / 2, s, s}};
  const size_t per_crop = static_cast<size_t>(channels_ * s * s) * (out_uint8 ? 1 : sizeof(float));
  Rng unused({0});
  for (int k = 0; k < 10; ++k) {
    finish(resized, boxes[k % 5], unused, static_cast<uint8_t*>(out) + k * per_crop, out_uint8, /*mirror=*/k >= 5);
  }
}

void Transform::apply_ten_crop_encoded(const std::vector<uint8_t>& bytes, const std::string& name, void* out,
                                       bool out_uint8) const {
  apply_ten_crop(decode_image(bytes, static_cast<int>(channels_), name), out, out_uint8);
}

void Transform::finish(const cv::Mat& image, const CropBox& box, Rng& rng, void* out, bool out_uint8,
                       bool mirror) const {
  const int s = static_cast<int>(options_.crop_size);
  cv::Mat source = image;
  if (source.channels() != channels_) {
    cv::cvtColor(source, source, channels_ == 3 ? cv::COLOR_GRAY2RGB : cv::COLOR_RGB2GRAY);
  }
  // Crop (zero outside the image for pad-and-crop), then resize to s x s.
  cv::Mat crop;
  const cv::Rect inside = cv::Rect(box.x, box.y, box.width, box.height) & cv::Rect(0, 0, source.cols, source.rows);
  if (inside.width == box.width && inside.height == box.height) {
    crop = source(inside);
  } else {
    crop = cv::Mat::zeros(box.height, box.width, source.type());
    if (inside.area() > 0) source(inside).copyTo(crop(cv::Rect(inside.x - box.x, inside.y - box.y, inside.width, inside.height)));
  }
  cv::Mat resized;
  if (crop.cols == s && crop.rows == s) {
    resized = crop;
  } else {
    // Area averaging when shrinking by 2x or more (close to PIL's antialiased bilinear; reduced
    // decoding already removed most of such shrinking), bilinear otherwise (faster, no aliasing).
    const bool shrink = crop.cols >= 2 * s && crop.rows >= 2 * s;
    cv::resize(crop, resized, cv::Size(s, s), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const bool flip = mirror || (train_ && options_.flip && rng.uniform() < 0.5);

  const int c = static_cast<int>(channels_);
  cv::Mat pixels;  // (s, s, c) float in [0, 1] when distorting, else uint8
  if (train_ && options_.photometric) {
    resized.convertTo(pixels, CV_32F, 1.0 / 255.0);
    const float b = static_cast<float>(rng.uniform(1 - options_.brightness, 1 + options_.brightness));
    const float k = static_cast<float>(rng.uniform(1 - options_.contrast, 1 + options_.contrast));
    const float sat = static_cast<float>(rng.uniform(1 - options_.saturation, 1 + options_.saturation));
    // AlexNet PCA lighting: eigenvalues/vectors of ImageNet RGB covariance.
    const float eigval[3] = {0.2175f, 0.0188f, 0.0045f};
    const float eigvec[3][3] = {{-0.5675f, 0.7192f, 0.4009f}, {-0.5808f, -0.0045f, -0.8140f}, {-0.5836f, -0.6948f, 0.4203f}};
    float alpha[3], shift[3] = {0, 0, 0};
    for (float& a : alpha) a = static_cast<float>(rng.normal() * options_.lighting);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) shift[i] += eigvec[i][j] * alpha[j] * eigval[j];
    pixels *= b;
    cv::Mat gray;
    if (c == 3) {
      cv::cvtColor(pixels, gray, cv::COLOR_RGB2GRAY);
    } else {
      gray = pixels;
    }
    const double mean_gray = cv::mean(gray)[0];
    pixels = pixels * k + (1 - k) * mean_gray;
    if (c == 3) {
      cv::cvtColor(pixels, gray, cv::COLOR_RGB2GRAY);
      cv::Mat gray3;
      cv::cvtColor(gray, gray3, cv::COLOR_GRAY2RGB);
      pixels = pixels * sat + gray3 * (1 - sat);
      pixels += cv::Scalar(shift[0], shift[1], shift[2]);
    }
    cv::min(cv::max(pixels, 0.0), 1.0, pixels);
  } else {
    pixels = resized;
  }

  // HWC -> CHW, flip, normalize in one pass.
  const bool is_float = pixels.depth() == CV_32F;
  const PixelAffine affine = pixel_affine(options_.mean, options_.std, is_float ? 1.0 : 255.0);
  const float* scale = affine.scale.data();
  const float* offset = affine.offset.data();
  for (int y = 0; y < s; ++y) {
    for (int x = 0; x < s; ++x) {
      const int sx = flip ? s - 1 - x : x;
      for (int ch = 0; ch < c; ++ch) {
        const size_t at = (static_cast<size_t>(ch) * s + y) * s + x;
        if (out_uint8) {
          static_cast<uint8_t*>(out)[at] =
              is_float ? cv::saturate_cast<uint8_t>(pixels.ptr<float>(y)[sx * c + ch] * 255.0f) : pixels.ptr<uint8_t>(y)[sx * c + ch];
        } else {
          const float v = is_float ? pixels.ptr<float>(y)[sx * c + ch] : pixels.ptr<uint8_t>(y)[sx * c + ch];
          static_cast<float*>(out)[at] = v * scale[ch] + offset[ch];
        }
      }
    }
  }
}

}  // namespace bnx::data
