// ImageFolder indexing and loading (see image_folder.h).
#include "data/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/decode.h"

namespace fs = std::filesystem;

namespace bnx::data {
namespace {

// Sorted subfolder names of `dir`.
std::vector<std::string> class_folders(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Files of `dir` (sorted by name), skipping hidden ones. directory_entry caches the file type
// from the directory listing, so this does not stat each file.
std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && !entry.is_directory()) files.push_back(name);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<ImageFolder::Entry> from_class_folders(const fs::path& dir, const std::vector<std::string>& classes) {
  std::vector<ImageFolder::Entry> entries;
  for (size_t c = 0; c < classes.size(); ++c) {
    const fs::path folder = dir / classes[c];
    if (!fs::is_directory(folder)) continue;
    for (const auto& file : files_in(folder)) entries.push_back({(folder / file).string(), static_cast<int64_t>(c)});
  }
  return entries;
}

// LOC_val_solution.csv ("ImageId,PredictionString", first token = class) or "filename label" lines.
std::vector<ImageFolder::Entry> from_labels_file(const fs::path& dir, const std::string& labels_path,
                                                 const std::vector<std::string>& classes) {
  std::map<std::string, int64_t> index;
  for (size_t c = 0; c < classes.size(); ++c) index[classes[c]] = static_cast<int64_t>(c);
  std::map<std::string, std::string> files;  // stem and full name -> full name
  for (const auto& file : files_in(dir)) {
    files[file] = file;
    files[fs::path(file).stem().string()] = file;
  }
  std::ifstream in(labels_path);
  if (!in) throw DataError(labels_path + ": cannot open labels file");
  const bool csv = labels_path.size() >= 4 && labels_path.substr(labels_path.size() - 4) == ".csv";
  std::vector<ImageFolder::Entry> entries;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (csv && number == 1 && line.rfind("ImageId", 0) == 0)) continue;
    std::string name, label;
    if (csv) {
      auto comma = line.find(',');
      if (comma == std::string::npos) throw DataError(labels_path + ":" + std::to_string(number) + ": expected 'ImageId,PredictionString'");
      name = line.substr(0, comma);
      std::istringstream(line.substr(comma + 1)) >> label;
    } else {
      std::istringstream(line) >> name >> label;
    }
    if (name.empty() || label.empty()) throw DataError(labels_path + ":" + std::to_string(number) + ": expected a file name and a label");
    int64_t cls = -1;
    if (index.count(label)) {
      cls = index[label];
    } else if (std::all_of(label.begin(), label.end(), ::isdigit)) {
      cls = std::stoll(label);
    }
    if (cls < 0 || cls >= static_cast<int64_t>(classes.size())) {
      throw DataError(labels_path + ":" + std::to_string(number) + ": unknown class '" + label + "'");
    }
    auto file = files.find(name);
    if (file == files.end()) throw DataError(labels_path + ":" + std::to_string(number) + ": no file '" + name + "' in " + dir.string());
    entries.push_back({(dir / file->second).string(), cls});
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return entries;
}

}  // namespace

ImageFolder::ImageFolder(std::vector<Entry> entries, std::vector<std::string> classes)
    : entries_(std::move(entries)), classes_(std::move(classes)) {}

std::shared_ptr<ImageFolder> ImageFolder::open(const std::string& root, bool train, const std::string& val_labels) {
  const fs::path train_dir = fs::path(root) / "train";
  if (!fs::is_directory(train_dir)) throw DataError(train_dir.string() + ": not a folder (expected root/train/<class>/...)");
  auto classes = class_folders(train_dir);
  if (classes.empty()) throw DataError(train_dir.string() + ": no class folders");
  std::vector<Entry> entries;
  if (train) {
    entries = from_class_folders(train_dir, classes);
  } else {
    const fs::path val_dir = fs::path(root) / "val";
    if (!fs::is_directory(val_dir)) throw DataError(val_dir.string() + ": not a folder");
    std::string labels = val_labels;
    if (labels.empty()) {
      for (const char* candidate : {"LOC_val_solution.csv", "labels.txt"}) {
        if (fs::exists(val_dir / candidate)) labels = (val_dir / candidate).string();
        if (fs::exists(fs::path(root) / candidate)) labels = (fs::path(root) / candidate).string();
      }
    }
    entries = labels.empty() ? from_class_folders(val_dir, classes) : from_labels_file(val_dir, labels, classes);
  }
  if (entries.empty()) throw DataError(root + ": no images found for the " + (train ? "training" : "validation") + " split");
  return std::make_shared<ImageFolder>(std::move(entries), std::move(classes));
}

std::vector<uint8_t> ImageFolder::encoded(int64_t index) const {
  const std::string& path = entries_.at(index).path;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw DataError(path + ": cannot open");
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw DataError(path + ": read failed");
  }
  return bytes;
}

Sample ImageFolder::load(int64_t index) const {
  return {decode_image(encoded(index), 3, entries_[index].path), entries_[index].label};
}

}  // namespace bnx::data
