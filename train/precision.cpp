// Autocast scope and loss scaler (see precision.h).
#include "train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// LibTorch 2.4 replaced the per-backend autocast setters by ones taking the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define BNX_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace bnx::train {
namespace {

bool autocast_enabled(torch::DeviceType type) {
#ifdef BNX_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(type);
#else
  return type == torch::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

at::ScalarType autocast_dtype(torch::DeviceType type) {
#ifdef BNX_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(type);
#else
  return type == torch::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast(torch::DeviceType type, bool enabled, at::ScalarType dtype) {
#ifdef BNX_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(type, enabled);
  at::autocast::set_autocast_dtype(type, dtype);
#else
  if (type == torch::kCUDA) {
    at::autocast::set_enabled(enabled);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
#endif
}

}  // namespace

AutocastScope::AutocastScope(torch::Device device, Precision precision) : type_(device.type()) {
  if (precision == Precision::kFloat32) return;
  TORCH_CHECK(type_ == torch::kCUDA || type_ == torch::kCPU, "autocast: unsupported device ", device);
  active_ = true;
  was_enabled_ = autocast_enabled(type_);
  was_dtype_ = autocast_dtype(type_);
  set_autocast(type_, true, precision == Precision::kBFloat16 ? torch::kBFloat16 : torch::kFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // As Python's torch.autocast: leaving the outermost scope frees the cached weight casts.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(type_, was_enabled_, was_dtype_);
}

LossScaler::LossScaler(LossScalerOptions options) : options_(options), scale_(options.initial_scale) {
  TORCH_CHECK(options_.initial_scale > 0 && options_.growth_factor > 1 && options_.backoff_factor > 0 &&
                  options_.backoff_factor < 1 && options_.growth_interval > 0,
              "LossScaler: need scale > 0, growth > 1, 0 < backoff < 1, growth_interval > 0");
}

bool LossScaler::unscale_and_check(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flags;  // (1,) per gradient: any non-finite value; one host sync in all
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad();
    g.mul_(1.0 / scale_);
    flags.push_back(torch::isfinite(g).logical_not().any().reshape({1}));
  }
  return flags.empty() || !torch::cat(flags).any().item<bool>();
}

void LossScaler::update(bool finite) {
  if (!finite) {
    scale_ *= options_.backoff_factor;
    clean_steps_ = 0;
  } else if (++clean_steps_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    clean_steps_ = 0;
  }
}

void LossScaler::restore(double scale, int64_t clean_steps) {
  TORCH_CHECK(scale > 0 && clean_steps >= 0, "LossScaler: invalid state (scale ", scale, ", clean steps ", clean_steps, ")");
  scale_ = scale;
  clean_steps_ = clean_steps;
}

}  // namespace bnx::train
