// Mixed precision: an autocast scope (bf16 or fp16 activations, float32 weights) for the forward
// pass, and the dynamic loss scaler fp16 needs so small gradients do not flush to zero.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace bnx::train {

enum class Precision { kFloat32, kBFloat16, kFloat16 };

/// Autocast on `device`'s type while alive (nothing for float32); restores the previous state.
class AutocastScope {
 public:
  AutocastScope(torch::Device device, Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  torch::DeviceType type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_;
};

struct LossScalerOptions {
  double initial_scale = 65536;
  double growth_factor = 2;
  double backoff_factor = 0.5;
  /// Steps without an overflow before the scale grows.
  int64_t growth_interval = 2000;
};

/// Dynamic loss scaling (as torch.cuda.amp.GradScaler): backward on loss * scale; then
/// unscale_and_check divides the gradients by the scale and says whether they are all finite. An
/// overflow skips that step's update and halves the scale; `growth_interval` clean steps double it.
/// Gradients must already be averaged over ranks, so every rank takes the same decision.
class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});
  torch::Tensor scale(const torch::Tensor& loss) const { return loss * scale_; }
  /// Unscales the gradients in place; true when every one is finite (then step the optimizer).
  bool unscale_and_check(const std::vector<torch::Tensor>& params);
  /// Updates the scale after a step that overflowed or not.
  void update(bool finite);
  double current_scale() const { return scale_; }
  int64_t clean_steps() const { return clean_steps_; }
  /// Resume: the scale and the clean-step count of a checkpoint.
  void restore(double scale, int64_t clean_steps);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t clean_steps_ = 0;
};

}  // namespace bnx::train
