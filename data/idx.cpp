// IDX reader (see idx.h). zlib's gzread reads gzipped and plain files alike.
#include "data/idx.h"

#include <zlib.h>

#include <filesystem>
#include <vector>

namespace bnx::data {
namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw DataError(path + ": cannot open");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int n = 0;
  while ((n = gzread(file, chunk, sizeof(chunk))) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  int code = 0;
  const char* message = gzerror(file, &code);
  std::string error = (n < 0 || (code != Z_OK && code != Z_BUF_ERROR)) ? message : "";
  gzclose(file);
  if (!error.empty()) throw DataError(path + ": read error (" + error + "); is the file truncated?");
  return bytes;
}

uint32_t big_endian(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) | b[at + 3];
}

// Validates the header; returns the dimensions.
std::vector<int64_t> parse_header(const std::vector<uint8_t>& bytes, const std::string& path, uint32_t magic,
                                  const char* what) {
  if (bytes.size() < 4) throw DataError(path + ": too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
  uint32_t found = big_endian(bytes, 0);
  if (found != magic) {
    char text[64];
    std::snprintf(text, sizeof(text), "bad magic 0x%08x (expected 0x%08x for %s)", found, magic, what);
    throw DataError(path + ": " + text);
  }
  const size_t dims = magic & 0xff;
  if (bytes.size() < 4 + 4 * dims) throw DataError(path + ": truncated header");
  std::vector<int64_t> shape;
  int64_t expected = 1;
  for (size_t d = 0; d < dims; ++d) {
    shape.push_back(big_endian(bytes, 4 + 4 * d));
    expected *= shape.back();
  }
  if (dims == 3 && (shape[1] == 0 || shape[2] == 0)) throw DataError(path + ": zero image dimensions");
  const size_t have = bytes.size() - 4 - 4 * dims;
  if (have < static_cast<size_t>(expected)) {
    throw DataError(path + ": truncated: header declares " + std::to_string(expected) + " bytes of data, file has " +
                    std::to_string(have));
  }
  if (have > static_cast<size_t>(expected)) {
    throw DataError(path + ": " + std::to_string(have - expected) + " bytes after the declared data");
  }
  return shape;
}

std::string existing(const std::string& base) {
  if (std::filesystem::exists(base + ".gz")) return base + ".gz";
  if (std::filesystem::exists(base)) return base;
  throw DataError(base + "[.gz]: not found (install Debian's dataset-fashion-mnist, or set data.root)");
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path) {
  auto bytes = read_all(path);
  auto shape = parse_header(bytes, path, 0x00000803, "idx3 ubyte images");
  torch::Tensor images = torch::empty(shape, torch::kUInt8);  // (N, rows, cols)
  std::memcpy(images.data_ptr(), bytes.data() + 16, images.numel());
  return images;
}

torch::Tensor read_idx_labels(const std::string& path) {
  auto bytes = read_all(path);
  auto shape = parse_header(bytes, path, 0x00000801, "idx1 ubyte labels");
  torch::Tensor labels = torch::empty(shape, torch::kUInt8);
  std::memcpy(labels.data_ptr(), bytes.data() + 8, labels.numel());
  return labels.to(torch::kInt64);
}

IdxDataset::IdxDataset(const std::string& images, const std::string& labels) : path_(images) {
  images_ = read_idx_images(images);
  labels_ = read_idx_labels(labels);
  if (images_.size(0) != labels_.size(0)) {
    throw DataError(images + " has " + std::to_string(images_.size(0)) + " images but " + labels + " has " +
                    std::to_string(labels_.size(0)) + " labels");
  }
  num_classes_ = labels_.numel() ? labels_.max().item<int64_t>() + 1 : 0;
}

std::shared_ptr<IdxDataset> IdxDataset::from_folder(const std::string& root, bool train) {
  const std::string prefix = root + "/" + (train ? "train" : "t10k");
  return std::make_shared<IdxDataset>(existing(prefix + "-images-idx3-ubyte"), existing(prefix + "-labels-idx1-ubyte"));
}

Sample IdxDataset::load(int64_t index) const {
  TORCH_CHECK(index >= 0 && index < size(), "IDX index ", index, " out of range [0, ", size(), ")");
  const int rows = static_cast<int>(images_.size(1)), cols = static_cast<int>(images_.size(2));
  uint8_t* pixels = images_.data_ptr<uint8_t>() + index * rows * cols;
  return {cv::Mat(rows, cols, CV_8UC1, pixels).clone(), labels_.data_ptr<int64_t>()[index]};
}

std::string IdxDataset::describe(int64_t index) const { return path_ + "[" + std::to_string(index) + "]"; }

}  // namespace bnx::data
