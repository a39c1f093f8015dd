// Where a rank computes: the device (train.device: GPU local_rank % count on CUDA), and batches
// moved there, uint8 batches being normalized on the device. Which communicator carries the
// device's tensors is dist/backend.h's choice.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "dist/communicator.h"

namespace bnx::train {

enum class DeviceKind { kAuto, kCpu, kCuda };

/// kCpu; kCuda: GPU local_rank % device count (CUDA_VISIBLE_DEVICES applies), an error naming the
/// rank when this build or this node has none, or when this node has more ranks than GPUs (NCCL
/// cannot run two ranks on one GPU); kAuto: CUDA when every rank of the node gets a GPU of its own,
/// else CPU (rank 0 of the node says why). On CUDA it also makes the GPU current and turns on
/// cuDNN autotuning.
torch::Device select_device(DeviceKind wanted, const dist::Communicator& world);

/// A loader batch's images on `device` as normalized float32 (N, C, H, W): uint8 batches are copied
/// (asynchronously from pinned memory) and normalized there with `mean`/`std` of [0, 1] pixels
/// (data::pixel_affine, as the CPU loader); float batches are already normalized and only copied.
torch::Tensor images_to(const torch::Tensor& images, torch::Device device, const std::vector<double>& mean,
                        const std::vector<double>& std);

/// Bytes of GPU memory in use on `device`'s GPU (cudaMemGetInfo: the CUDA context, the caching
/// allocator's reserved blocks, other processes), comparable with torch.cuda.mem_get_info()'s;
/// 0 on the CPU.
int64_t device_memory_in_use(torch::Device device);

}  // namespace bnx::train
