// Checkpoint files (see checkpoint.h). Layout: "BNXCKPT1", payload size (uint64 LE), CRC-32 of the
// payload (uint32 LE), payload = a torch::serialize archive.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

constexpr char kMagic[8] = {'B', 'N', 'X', 'C', 'K', 'P', 'T', '1'};
constexpr size_t kHeader = 8 + 8 + 4;

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += n + "\n";
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Writes `parts` to `path` and fsyncs it; on any failure removes the file and throws naming it and
// the system's reason (errno).
void write_file_or_remove(const std::string& path, std::initializer_list<const std::string*> parts) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot write checkpoint: " + std::strerror(errno));
  for (const std::string* part : parts) {
    for (size_t done = 0; done < part->size();) {
      const ssize_t n = ::write(fd, part->data() + done, part->size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string reason = n < 0 ? std::strerror(errno) : "short write";
        ::close(fd);
        ::unlink(path.c_str());
        throw std::runtime_error(path + ": cannot write checkpoint: " + reason + " (the previous checkpoints are kept)");
      }
      done += static_cast<size_t>(n);
    }
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(path.c_str());
    throw std::runtime_error(path + ": cannot write checkpoint: " + reason + " (the previous checkpoints are kept)");
  }
}

}  // namespace

torch::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::vector<torch::Tensor> cuda_rng_states() {
  std::vector<torch::Tensor> states;
  if (!torch::cuda::is_available()) return states;
  for (size_t i = 0; i < torch::cuda::device_count(); ++i) {
    auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    states.push_back(gen.get_state());
  }
  return states;
}

void set_cuda_rng_states(const std::vector<torch::Tensor>& states) {
  if (!torch::cuda::is_available()) return;
  for (size_t i = 0; i < states.size() && i < torch::cuda::device_count(); ++i) {
    auto gen = at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(states[i]);
  }
}

void write_checkpoint(const std::string& path, const NamedTensors& state, torch::optim::Optimizer* optimizer,
                      const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive;
  std::vector<std::string> names;
  for (size_t i = 0; i < state.size(); ++i) {
    names.push_back(state[i].first);
    archive.write("t" + std::to_string(i), state[i].second.detach().cpu());  // loadable without a GPU
  }
  archive.write("names", c10::IValue(join(names)));
  archive.write("step", c10::IValue(meta.step));
  archive.write("examples", c10::IValue(meta.examples));
  archive.write("world_size", c10::IValue(static_cast<int64_t>(meta.world_size)));
  archive.write("model_name", c10::IValue(meta.model_name));
  archive.write("config_yaml", c10::IValue(meta.config_yaml));
  archive.write("bnx_version", c10::IValue(meta.bnx_version));
  archive.write("torch_version", c10::IValue(meta.torch_version));
  archive.write("loss_scale", c10::IValue(meta.loss_scale));
  archive.write("loss_scale_clean_steps", c10::IValue(meta.loss_scale_clean_steps));
  archive.write("in_channels", c10::IValue(meta.in_channels));
  archive.write("num_classes", c10::IValue(meta.num_classes));
  archive.write("rng_state", cpu_rng_state());
  const auto cuda_states = cuda_rng_states();
  archive.write("cuda_rng_count", c10::IValue(static_cast<int64_t>(cuda_states.size())));
  for (size_t i = 0; i < cuda_states.size(); ++i) archive.write("cuda_rng_" + std::to_string(i), cuda_states[i]);
  if (optimizer != nullptr) {
    torch::serialize::OutputArchive optim;
    optimizer->save(optim);
    archive.write("optimizer", optim);
  }
  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();

  const uint64_t size = payload.size();
  const uint32_t crc = crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size()));
  std::string header(kMagic, 8);
  for (int b = 0; b < 8; ++b) header.push_back(static_cast<char>(size >> (8 * b)));
  for (int b = 0; b < 4; ++b) header.push_back(static_cast<char>(crc >> (8 * b)));
  const std::string tmp = path + ".tmp";
  write_file_or_remove(tmp, {&header, &payload});
  std::error_code renamed;
  fs::rename(tmp, path, renamed);
  if (renamed) {
    fs::remove(tmp);
    throw std::runtime_error(path + ": cannot write checkpoint: " + renamed.message());
  }
  fsync_path(fs::path(path).parent_path().empty() ? "." : fs::path(path).parent_path().string(), O_RDONLY | O_DIRECTORY);
}

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CheckpointError(path + ": cannot open checkpoint");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    throw CheckpointError(path + ": not a bnx checkpoint (bad header)");
  }
  uint64_t size = 0;
  uint32_t crc = 0;
  for (int b = 0; b < 8; ++b) size |= uint64_t(uint8_t(bytes[8 + b])) << (8 * b);
  for (int b = 0; b < 4; ++b) crc |= uint32_t(uint8_t(bytes[16 + b])) << (8 * b);
  if (bytes.size() - kHeader != size) {
    throw CheckpointError(path + ": truncated or padded checkpoint: header says " + std::to_string(size) +
                          " bytes of data, file has " + std::to_string(bytes.size() - kHeader));
  }
  const uint32_t actual = crc32(0L, reinterpret_cast<const Bytef*>(bytes.data() + kHeader), static_cast<uInt>(size));
  if (actual != crc) throw CheckpointError(path + ": checksum mismatch: the checkpoint is corrupted");

  Checkpoint ckpt;
  ckpt.path = path;
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data() + kHeader, size);
    c10::IValue v;
    archive.read("names", v);
    auto names = split_lines(v.toStringRef());
    for (size_t i = 0; i < names.size(); ++i) {
      torch::Tensor t;
      archive.read("t" + std::to_string(i), t);
      ckpt.state.emplace_back(names[i], t);
    }
    archive.read("step", v);
    ckpt.meta.step = v.toInt();
    archive.read("examples", v);
    ckpt.meta.examples = v.toInt();
    archive.read("world_size", v);
    ckpt.meta.world_size = static_cast<int>(v.toInt());
    archive.read("model_name", v);
    ckpt.meta.model_name = v.toStringRef();
    archive.read("config_yaml", v);
    ckpt.meta.config_yaml = v.toStringRef();
    archive.read("bnx_version", v);
    ckpt.meta.bnx_version = v.toStringRef();
    archive.read("torch_version", v);
    ckpt.meta.torch_version = v.toStringRef();
    archive.try_read("rng_state", ckpt.rng_state);
    if (archive.try_read("cuda_rng_count", v)) {
      for (int64_t i = 0; i < v.toInt(); ++i) {
        torch::Tensor state;
        archive.read("cuda_rng_" + std::to_string(i), state);
        ckpt.cuda_rng_states.push_back(state);
      }
    }
    if (archive.try_read("loss_scale", v)) ckpt.meta.loss_scale = v.toDouble();
    if (archive.try_read("loss_scale_clean_steps", v)) ckpt.meta.loss_scale_clean_steps = v.toInt();
    if (archive.try_read("in_channels", v)) ckpt.meta.in_channels = v.toInt();
    if (archive.try_read("num_classes", v)) ckpt.meta.num_classes = v.toInt();
    torch::serialize::InputArchive optim;
    if (archive.try_read("optimizer", optim)) ckpt.optimizer = std::move(optim);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": unreadable checkpoint content: " + e.what_without_backtrace());
  }
  return ckpt;
}

void load_state(const Checkpoint& ckpt, const NamedTensors& state) {
  std::map<std::string, torch::Tensor> saved(ckpt.state.begin(), ckpt.state.end());
  for (const auto& entry : state) {
    const std::string& name = entry.first;
    if (name.size() > 13 && name.compare(name.size() - 13, 13, ".running_mean") == 0 && !saved.count(name)) {
      throw CheckpointError(ckpt.path + ": the model has BN layers but the checkpoint lacks BN running statistics (no '" +
                            name + "'; saved model: " + ckpt.meta.model_name + ")");
    }
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : state) {
    auto it = saved.find(name);
    if (it == saved.end()) {
      throw CheckpointError(ckpt.path + ": has no '" + name + "' (saved model: " + ckpt.meta.model_name + ")");
    }
    if (it->second.sizes() != tensor.sizes()) {
      std::ostringstream msg;
      msg << ckpt.path << ": '" << name << "' has shape " << it->second.sizes() << " in the checkpoint but "
          << tensor.sizes() << " in the model";
      throw CheckpointError(msg.str());
    }
    tensor.copy_(it->second);
    saved.erase(it);
  }
  if (!saved.empty()) {
    throw CheckpointError(ckpt.path + ": has '" + saved.begin()->first + "', which the model does not (" +
                          std::to_string(saved.size()) + " unexpected entries; saved model: " + ckpt.meta.model_name + ")");
  }
}

std::string checkpoint_name(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt_%08lld.bnx", static_cast<long long>(step));
  return name;
}

std::vector<std::string> list_checkpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  if (!fs::is_directory(dir)) return {};
  static const std::regex pattern("ckpt_(\\d+)\\.bnx");
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, m, pattern)) found.emplace_back(std::stoll(m[1]), entry.path().string());
  }
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

std::optional<Checkpoint> latest_checkpoint(const std::string& dir, std::ostream& log) {
  for (const auto& path : list_checkpoints(dir)) {
    try {
      return read_checkpoint(path);
    } catch (const CheckpointError& e) {
      log << "warning: skipping damaged checkpoint: " << e.what() << std::endl;
    }
  }
  return std::nullopt;
}

std::optional<Checkpoint> resume_checkpoint(const std::string& dir, const std::string& resume, std::ostream& log) {
  if (resume == "auto") return latest_checkpoint(dir, log);
  if (!resume.empty()) return read_checkpoint(resume);
  if (!list_checkpoints(dir).empty()) {
    throw ConfigError(dir + " already has checkpoints: pass --resume auto to continue, or another --out");
  }
  return std::nullopt;
}

void prune_checkpoints(const std::string& dir, int64_t keep) {
  auto paths = list_checkpoints(dir);
  for (size_t i = static_cast<size_t>(keep); i < paths.size(); ++i) fs::remove(paths[i]);
}

}  // namespace bnx::train
