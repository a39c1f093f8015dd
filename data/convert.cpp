// IDX -> ImageNet-style JPEG folder (see convert.h).
#include "data/convert.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace bnx::data {

std::string class_folder_name(int64_t label) {
  char name[32];
  std::snprintf(name, sizeof(name), "n%08lld", static_cast<long long>(label));
  return name;
}

namespace {

void write_jpeg(const cv::Mat& image, const fs::path& path, const ConvertOptions& options) {
  cv::Mat out = image;
  if (options.size > 0 && (image.cols != options.size || image.rows != options.size)) {
    cv::resize(image, out, cv::Size(static_cast<int>(options.size), static_cast<int>(options.size)), 0, 0,
               cv::INTER_LINEAR);
  }
  if (out.channels() == 3) cv::cvtColor(out, out, cv::COLOR_RGB2BGR);
  if (!cv::imwrite(path.string(), out, {cv::IMWRITE_JPEG_QUALITY, options.quality})) {
    throw DataError(path.string() + ": cannot write");
  }
}

}  // namespace

int64_t write_image_folder(const Dataset& train, const Dataset& val, const std::string& root,
                           const ConvertOptions& options) {
  int64_t written = 0;
  const int64_t n_train = options.limit > 0 ? std::min(options.limit, train.size()) : train.size();
  for (int64_t c = 0; c < train.num_classes(); ++c) fs::create_directories(fs::path(root) / "train" / class_folder_name(c));
  for (int64_t i = 0; i < n_train; ++i) {
    Sample s = train.load(i);
    char name[48];
    std::snprintf(name, sizeof(name), "train_%08lld.JPEG", static_cast<long long>(i));
    write_jpeg(s.image, fs::path(root) / "train" / class_folder_name(s.label) / name, options);
    ++written;
  }
  const fs::path val_dir = fs::path(root) / "val";
  fs::create_directories(val_dir);
  std::ofstream labels(val_dir / "LOC_val_solution.csv");
  labels << "ImageId,PredictionString\n";
  const int64_t n_val = options.limit > 0 ? std::min(options.limit, val.size()) : val.size();
  for (int64_t i = 0; i < n_val; ++i) {
    Sample s = val.load(i);
    char id[48];
    std::snprintf(id, sizeof(id), "val_%08lld", static_cast<long long>(i));
    write_jpeg(s.image, val_dir / (std::string(id) + ".JPEG"), options);
    // The ImageNet form: the class, then a bounding box (here the whole image).
    labels << id << "," << class_folder_name(s.label) << " 0 0 " << s.image.cols - 1 << " " << s.image.rows - 1 << "\n";
    ++written;
  }
  if (!labels) throw DataError((val_dir / "LOC_val_solution.csv").string() + ": cannot write");
  return written;
}

}  // namespace bnx::data
