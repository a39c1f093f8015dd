// Device selection and batch placement (see device.h).
#include "train/device.h"

#include <iostream>

#include "data/transforms.h"
#include "train/errors.h"
#ifdef BNX_WITH_NCCL
#include <cuda_runtime_api.h>

#include "dist/nccl_communicator.h"
#endif

namespace bnx::train {

torch::Device select_device(DeviceKind wanted, const dist::Communicator& world) {
  if (wanted == DeviceKind::kCpu) return torch::kCPU;
#ifdef BNX_WITH_NCCL
  if (wanted == DeviceKind::kAuto && !torch::cuda::is_available()) return torch::kCPU;
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (gpus > 0 && world.local_size() > gpus) {
    const std::string why = std::to_string(world.local_size()) + " ranks on this node but " + std::to_string(gpus) +
                            " GPU(s): NCCL cannot run two ranks on one GPU";
    if (wanted == DeviceKind::kCuda) {
      throw ConfigError("rank " + std::to_string(world.rank()) + ": train.device is cuda, but " + why +
                        " (start at most one rank per GPU)");
    }
    if (world.local_rank() == 0) std::cerr << "bnx: train.device auto: " << why << "; computing on the CPU\n";
    return torch::kCPU;
  }
  const int index = dist::select_cuda_device(world);  // throws naming the rank when no GPU is visible
  at::globalContext().setBenchmarkCuDNN(true);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
#else
  if (wanted == DeviceKind::kAuto) return torch::kCPU;
  throw ConfigError("rank " + std::to_string(world.rank()) + ": train.device is cuda, but this bnx was built " +
                    "against a CPU-only LibTorch " + TORCH_VERSION + " (see README, \"Building on a GPU cluster\")");
#endif
}

torch::Tensor images_to(const torch::Tensor& images, torch::Device device, const std::vector<double>& mean,
                        const std::vector<double>& std) {
  torch::Tensor x = images.to(device, /*non_blocking=*/true);
  if (images.scalar_type() != torch::kUInt8) return x;
  const int64_t c = images.size(1);
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std.size()) == c,
              "images_to: mean/std need ", c, " values");
  const data::PixelAffine affine = data::pixel_affine(mean, std, 255.0);
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor s = torch::tensor(affine.scale, options).to(device).view({1, c, 1, 1});
  torch::Tensor o = torch::tensor(affine.offset, options).to(device).view({1, c, 1, 1});
  return torch::addcmul(o, x.to(torch::kFloat32), s);  // (N, C, H, W) float32
}

int64_t device_memory_in_use(torch::Device device) {
#ifdef BNX_WITH_NCCL
  if (device.is_cuda()) {
    size_t free = 0, total = 0;
    if (cudaSetDevice(device.index()) != cudaSuccess || cudaMemGetInfo(&free, &total) != cudaSuccess) return -1;
    return static_cast<int64_t>(total - free);
  }
#endif
  (void)device;
  return 0;
}

}  // namespace bnx::train
