// safetensors writer/reader and BN folding (see export.h).
#include "train/offline/export.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <set>

namespace bnx::train {
namespace {

const std::vector<std::pair<torch::ScalarType, std::string>>& dtype_names() {
  static const std::vector<std::pair<torch::ScalarType, std::string>> names = {
      {torch::kFloat32, "F32"}, {torch::kFloat64, "F64"}, {torch::kFloat16, "F16"}, {torch::kBFloat16, "BF16"},
      {torch::kInt64, "I64"},   {torch::kInt32, "I32"},   {torch::kUInt8, "U8"},    {torch::kInt8, "I8"},
      {torch::kBool, "BOOL"}};
  return names;
}

std::string dtype_name(torch::ScalarType t) {
  for (const auto& [type, name] : dtype_names()) {
    if (type == t) return name;
  }
  throw std::runtime_error(std::string("safetensors: unsupported dtype ") + c10::toString(t));
}

torch::ScalarType dtype_of(const std::string& n, const std::string& path) {
  for (const auto& [type, name] : dtype_names()) {
    if (name == n) return type;
  }
  throw std::runtime_error(path + ": unsupported safetensors dtype '" + n + "'");
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian");
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  int64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    torch::Tensor t = tensor.detach().cpu().contiguous();
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    header[name] = {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data to 8 bytes, as the reference writer does
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot write");
  const uint64_t n = text.size();
  for (int b = 0; b < 8; ++b) out.put(static_cast<char>(n >> (8 * b)));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : data) out.write(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  if (!out) throw std::runtime_error(path + ": write failed");
}

NamedTensors read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) throw std::runtime_error(path + ": too short for safetensors");
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= uint64_t(uint8_t(bytes[b])) << (8 * b);
  if (n > bytes.size() - 8) throw std::runtime_error(path + ": header size " + std::to_string(n) + " exceeds the file");
  auto header = nlohmann::json::parse(bytes.substr(8, n), nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw std::runtime_error(path + ": header is not a JSON object");
  const char* base = bytes.data() + 8 + n;
  const uint64_t data_size = bytes.size() - 8 - n;
  NamedTensors out;
  std::vector<std::pair<int64_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (metadata) *metadata = it.value().get<std::map<std::string, std::string>>();
      continue;
    }
    order.emplace_back(it.value()["data_offsets"][0].get<int64_t>(), it.key());
  }
  std::sort(order.begin(), order.end());  // file order
  for (const auto& [begin, name] : order) {
    const auto& e = header[name];
    const auto type = dtype_of(e["dtype"].get<std::string>(), path);
    const auto shape = e["shape"].get<std::vector<int64_t>>();
    const int64_t end = e["data_offsets"][1].get<int64_t>();
    torch::Tensor t = torch::empty(shape, type);
    if (end < begin || static_cast<uint64_t>(end) > data_size || end - begin != t.numel() * t.element_size()) {
      throw std::runtime_error(path + ": bad data_offsets for '" + name + "'");
    }
    std::memcpy(t.data_ptr(), base + begin, end - begin);
    out.emplace_back(name, t);
  }
  return out;
}

NamedTensors fold_batch_norm(const NamedTensors& state, double eps) {
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  std::set<std::string> dropped;
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> folded;  // layer prefix -> (weight, bias)
  for (const auto& [name, tensor] : state) {
    if (!ends_with(name, ".running_mean")) continue;
    const std::string bn = name.substr(0, name.size() - std::string(".running_mean").size());
    const auto dot = bn.rfind('.');
    const std::string parent = dot == std::string::npos ? "" : bn.substr(0, dot + 1);
    const std::string leaf = dot == std::string::npos ? bn : bn.substr(dot + 1);
    std::vector<std::string> candidates;
    if (leaf == "bn") candidates = {parent + "conv"};
    if (leaf.rfind("bn", 0) == 0 && leaf.size() > 2) candidates = {parent + "conv" + leaf.substr(2), parent + "fc" + leaf.substr(2)};
    if (leaf == "1" && ends_with(parent, "downsample.")) candidates = {parent + "0"};
    std::string layer;
    for (const auto& c : candidates) {
      if (by_name.count(c + ".weight")) layer = c;
    }
    if (layer.empty()) throw std::runtime_error("cannot fold BN '" + bn + "': no convolution or linear layer before it");
    torch::Tensor mean = by_name[bn + ".running_mean"].to(torch::kFloat64);
    torch::Tensor var = by_name[bn + ".running_var"].to(torch::kFloat64);
    const int64_t c = mean.numel();
    torch::Tensor gamma = by_name.count(bn + ".weight") ? by_name[bn + ".weight"].to(torch::kFloat64) : torch::ones({c}, torch::kFloat64);
    torch::Tensor beta = by_name.count(bn + ".bias") ? by_name[bn + ".bias"].to(torch::kFloat64) : torch::zeros({c}, torch::kFloat64);
    torch::Tensor weight = by_name[layer + ".weight"];
    torch::Tensor bias = by_name.count(layer + ".bias") ? by_name[layer + ".bias"].to(torch::kFloat64) : torch::zeros({c}, torch::kFloat64);
    if (weight.size(0) != c) throw std::runtime_error("cannot fold BN '" + bn + "': " + layer + " has a different channel count");
    torch::Tensor scale = gamma / (var + eps).sqrt();  // (C,)
    std::vector<int64_t> shape(weight.dim(), 1);
    shape[0] = c;
    folded[layer] = {(weight.to(torch::kFloat64) * scale.view(shape)).to(weight.scalar_type()),
                     (beta + (bias - mean) * scale).to(weight.scalar_type())};
    for (const char* s : {".weight", ".bias", ".running_mean", ".running_var", ".num_batches_tracked"}) dropped.insert(bn + s);
  }
  NamedTensors out;
  for (const auto& [name, tensor] : state) {
    if (dropped.count(name)) continue;
    bool replaced = false;
    for (const auto& [layer, wb] : folded) {
      if (name == layer + ".weight") {
        out.emplace_back(name, wb.first);
        out.emplace_back(layer + ".bias", wb.second);
        replaced = true;
      } else if (name == layer + ".bias") {
        replaced = true;  // emitted with the weight
      }
    }
    if (!replaced) out.emplace_back(name, tensor);
  }
  return out;
}

}  // namespace bnx::train
