// Where a rank computes: the device (train.device: GPU local_rank % count on CUDA), the
// communicator for that device's tensors (NCCL on CUDA, MPI on CPU), and batches moved there, uint8
// batches being normalized on the device.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "dist/communicator.h"

namespace bnx::train {

enum class DeviceKind { kAuto, kCpu, kCuda };

/// kCpu; kCuda: GPU local_rank % device count (CUDA_VISIBLE_DEVICES applies), an error naming the
/// rank when this build or this node has none; kAuto: CUDA when available, else CPU. On CUDA it
/// also makes the GPU current and turns on cuDNN autotuning.
torch::Device select_device(DeviceKind wanted, const dist::Communicator& world);

/// The communicator for `device`'s tensors: NCCL over `world`'s ranks on CUDA (collective), `world`
/// itself on CPU.
std::shared_ptr<dist::Communicator> communicator_for(torch::Device device, std::shared_ptr<dist::Communicator> world,
                                                     double timeout_seconds);

/// A loader batch's images on `device` as normalized float32 (N, C, H, W): uint8 batches are copied
/// (asynchronously from pinned memory) and normalized there with `mean`/`std` of [0, 1] pixels;
/// float batches are already normalized and only copied.
torch::Tensor images_to(const torch::Tensor& images, torch::Device device, const std::vector<double>& mean,
                        const std::vector<double>& std);

}  // namespace bnx::train
