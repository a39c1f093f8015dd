// IDX -> ImageNet-style JPEG folder (see convert.h).
#include "data/convert.h"

#include <jpeglib.h>
#include <opencv2/imgproc.hpp>

#include <csetjmp>

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

// libjpeg-turbo (the encoder OpenCV's imwrite uses), directly: bnx does not need OpenCV's codecs.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

void encode_jpeg(const cv::Mat& image, const fs::path& path, int quality) {  // image: RGB or gray, uint8
  std::FILE* file = std::fopen(path.string().c_str(), "wb");
  if (!file) throw DataError(path.string() + ": cannot write");
  jpeg_compress_struct cinfo;
  JpegError error;
  cinfo.err = jpeg_std_error(&error.mgr);
  error.mgr.error_exit = [](j_common_ptr c) { std::longjmp(reinterpret_cast<JpegError*>(c->err)->jump, 1); };
  if (setjmp(error.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::fclose(file);
    throw DataError(path.string() + ": cannot encode JPEG");
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, file);
  cinfo.image_width = static_cast<JDIMENSION>(image.cols);
  cinfo.image_height = static_cast<JDIMENSION>(image.rows);
  cinfo.input_components = image.channels();
  cinfo.in_color_space = image.channels() == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(image.ptr<uint8_t>(static_cast<int>(cinfo.next_scanline)));
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  const bool closed = std::fclose(file) == 0;
  if (!closed) throw DataError(path.string() + ": cannot write");
}

void write_jpeg(const cv::Mat& image, const fs::path& path, const ConvertOptions& options) {
  cv::Mat out = image;
  if (options.size > 0 && (image.cols != options.size || image.rows != options.size)) {
    cv::resize(image, out, cv::Size(static_cast<int>(options.size), static_cast<int>(options.size)), 0, 0,
               cv::INTER_LINEAR);
  }
  encode_jpeg(out, path, options.quality);
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
