// Device selection and batch placement (see device.h).
#include "train/device.h"

#include "train/config.h"
#ifdef BNX_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace bnx::train {

torch::Device select_device(DeviceKind wanted, const dist::Communicator& world) {
  if (wanted == DeviceKind::kCpu) return torch::kCPU;
#ifdef BNX_WITH_NCCL
  if (wanted == DeviceKind::kAuto && !torch::cuda::is_available()) return torch::kCPU;
  const int index = dist::select_cuda_device(world);  // throws naming the rank when no GPU is visible
  at::globalContext().setBenchmarkCuDNN(true);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
#else
  if (wanted == DeviceKind::kAuto) return torch::kCPU;
  throw ConfigError("rank " + std::to_string(world.rank()) + ": train.device is cuda, but this bnx was built " +
                    "against a CPU-only LibTorch " + TORCH_VERSION + " (see README, \"Building on a GPU cluster\")");
#endif
}

std::shared_ptr<dist::Communicator> communicator_for(torch::Device device, std::shared_ptr<dist::Communicator> world,
                                                     double timeout_seconds) {
  if (!device.is_cuda()) return world;
#ifdef BNX_WITH_NCCL
  dist::NcclOptions options;
  options.timeout_seconds = timeout_seconds;
  return dist::make_nccl_communicator(std::move(world), options);
#else
  (void)timeout_seconds;
  throw std::logic_error("communicator_for: CUDA device in a build without NCCL");
#endif
}

torch::Tensor images_to(const torch::Tensor& images, torch::Device device, const std::vector<double>& mean,
                        const std::vector<double>& std) {
  torch::Tensor x = images.to(device, /*non_blocking=*/true);
  if (images.scalar_type() != torch::kUInt8) return x;
  const int64_t c = images.size(1);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c,
              "images_to: mean/std need ", c, " values");
  std::vector<float> scale(c), offset(c);  // x / 255 normalized = x * scale + offset
  for (int64_t i = 0; i < c; ++i) {
    scale[i] = static_cast<float>(1.0 / (255.0 * std[i]));
    offset[i] = static_cast<float>(-mean[i] / std[i]);
  }
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor s = torch::tensor(scale, options).to(device).view({1, c, 1, 1});
  torch::Tensor o = torch::tensor(offset, options).to(device).view({1, c, 1, 1});
  return torch::addcmul(o, x.to(torch::kFloat32), s);  // (N, C, H, W) float32
}

}  // namespace bnx::train
