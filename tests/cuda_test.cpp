// The GPU path. SyncBatchNorm's distributed function on each available device (CPU always, CUDA
// when present) against the float64 CPU reference, float32 and bf16, channels-last; pinned uint8
// batches normalized on the GPU; with CUDA and NCCL: NCCL collectives at world size 1 and short
// bf16/fp16 training runs (fp16 with the loss scaler). On a machine without
// a GPU the CUDA cases skip, saying so; tools/gpu-check.sh runs them on a GPU machine.

#include <filesystem>

#include "dist/mirror_communicator.h"
#include "models/sync_batch_norm.h"
#include "train/cli/config.h"
#include "train/device.h"
#include "train/run.h"
#include "tests/test_support.h"
#ifdef BNX_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace fs = std::filesystem;

namespace bnx {
namespace {

std::vector<torch::Device> devices() {
  std::vector<torch::Device> d = {torch::kCPU};
  if (torch::cuda::is_available()) d.emplace_back(torch::kCUDA, 0);
  return d;
}

TEST(SyncBatchNormOnDevice, MatchesFloat64CpuReference) {
  if (!torch::cuda::is_available()) std::cout << "[ note ] no CUDA device: checking the CPU only\n";
  auto comm = std::make_shared<dist::MirrorCommunicator>();  // two ranks holding the same shard
  for (const auto& device : devices()) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      SCOPED_TRACE(device.str() + " " + std::string(c10::toString(dtype)));
      torch::manual_seed(3);
      torch::Tensor x64 = torch::randn({6, 5, 7, 3}, torch::kFloat64) * 3 + 1;  // (N, C, H, W)
      torch::Tensor g64 = torch::randn({6, 5, 7, 3}, torch::kFloat64);
      models::SyncBatchNorm bn(models::SyncBatchNormOptions(5).momentum(0.2), comm);
      bn->to(device);
      torch::Tensor x = x64.to(dtype).to(device).contiguous(at::MemoryFormat::ChannelsLast).requires_grad_(true);
      torch::Tensor y = bn->forward(x);
      ASSERT_EQ(y.device(), device);
      ASSERT_EQ(y.scalar_type(), dtype);
      (y * g64.to(dtype).to(device)).sum().backward();

      // Reference: float64 batch norm of the same (rounded) values on the CPU.
      torch::Tensor xr = x64.to(dtype).to(torch::kFloat64).requires_grad_(true);
      torch::Tensor w = torch::ones({5}, torch::kFloat64).requires_grad_(true);
      torch::Tensor b = torch::zeros({5}, torch::kFloat64).requires_grad_(true);
      torch::Tensor rm = torch::zeros({5}, torch::kFloat64), rv = torch::ones({5}, torch::kFloat64);
      torch::Tensor yr = torch::batch_norm(xr, w, b, rm, rv, true, 0.2, 1e-5, false);
      (yr * g64.to(dtype).to(torch::kFloat64)).sum().backward();
      const double tol = dtype == torch::kFloat32 ? 1e-4 : 2.0 / 128;
      EXPECT_ALL_CLOSE(y.cpu().to(torch::kFloat64), yr, tol, tol);
      EXPECT_ALL_CLOSE(x.grad().cpu().to(torch::kFloat64), xr.grad(), 2 * tol, 2 * tol);
      EXPECT_ALL_CLOSE(bn->weight.grad().cpu().to(torch::kFloat64), w.grad(), 1e-3, 1e-3);
      EXPECT_ALL_CLOSE(bn->bias.grad().cpu().to(torch::kFloat64), b.grad(), 1e-3, 1e-3);
      EXPECT_ALL_CLOSE(bn->running_mean.cpu().to(torch::kFloat64), rm, 1e-5, 1e-5);
      // The global batch has 2n values: unbiased with 2n - 1, not the reference's n - 1.
      const double n = 6 * 7 * 3;
      torch::Tensor batch_var = (rv - 0.8) / 0.2 * (n - 1) / n;
      EXPECT_ALL_CLOSE(bn->running_var.cpu().to(torch::kFloat64), 0.8 + 0.2 * batch_var * 2 * n / (2 * n - 1), 1e-5, 1e-5);
    }
  }
}

// The loader's pinned uint8 batches, copied asynchronously and normalized on the GPU, equal the CPU
// normalization (itself checked against the loader's float32 output by precision_test).
TEST(Device, PinnedUint8BatchesNormalizeOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  torch::Tensor pixels = torch::randint(0, 256, {4, 3, 9, 7}, torch::kUInt8).pin_memory();  // (N, C, H, W)
  const std::vector<double> mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};
  torch::Tensor on_gpu = train::images_to(pixels, torch::Device(torch::kCUDA, 0), mean, std);
  ASSERT_TRUE(on_gpu.is_cuda());
  ASSERT_EQ(on_gpu.scalar_type(), torch::kFloat32);
  EXPECT_ALL_CLOSE(on_gpu.cpu(), train::images_to(pixels, torch::kCPU, mean, std), 1e-6, 1e-6);
}

#ifdef BNX_WITH_NCCL
TEST(Nccl, CollectivesAtWorldSizeOne) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto mpi = test::world();
  dist::select_cuda_device(*mpi);
  auto nccl = dist::make_nccl_communicator(mpi);
  const int w = nccl->size();
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16, torch::kInt64}) {
    torch::Tensor t = torch::arange(10, torch::TensorOptions().dtype(dtype).device(torch::kCUDA));
    torch::Tensor expect = t.clone();
    nccl->allreduce(t, dist::ReduceOp::kSum);
    EXPECT_TRUE(torch::equal(t.cpu(), (expect * w).cpu())) << c10::toString(dtype);
    nccl->allreduce(t, dist::ReduceOp::kMax);
    EXPECT_TRUE(torch::equal(t.cpu(), (expect * w).cpu())) << c10::toString(dtype);
  }
  torch::Tensor a = torch::ones({1000}, torch::kCUDA);
  auto work = nccl->allreduce_async(a, dist::ReduceOp::kAvg);
  work->wait();
  EXPECT_TRUE(torch::allclose(a.cpu(), torch::ones({1000})));
  torch::Tensor host = torch::tensor({1.5, 2.5}, torch::kFloat64);  // CPU tensors go through MPI
  nccl->allreduce(host, dist::ReduceOp::kSum);
  EXPECT_TRUE(torch::allclose(host, torch::tensor({1.5, 2.5}, torch::kFloat64) * w));
  torch::Tensor g = nccl->allgather(torch::full({3}, 7.0, torch::kCUDA));
  EXPECT_EQ(g.sizes(), torch::IntArrayRef({w, 3}));
  nccl->barrier();
}

TEST(Nccl, ShortTrainingRunsInBf16AndFp16) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const std::string precision : {"bf16", "fp16"}) {
    train::Config config = cli::parse_config(R"(
name: cuda
model: {name: bn_inception, norm: sync, width: 0.125, small_input: true}
data: {kind: idx, crop_size: 28, resize: 28, random_resized_crop: false, mean: [0.286], std: [0.353], threads: 2}
train: {batch_size: 128, steps: 60, seed: 3, device: cuda}
optim: {lr: 0.1, momentum: 0.9}
eval: {every_steps: 0, batch_size: 1000}
log: {every_steps: 10}
)",
                                               "cuda", {"train.precision=" + precision});
    const fs::path dir = test::scratch_dir("cuda_" + precision);
    ASSERT_EQ(train::run_training(config, test::world(), {dir.string(), "", cli::to_yaml(config), true, {}}).end, train::FitEnd::kFinished);
    const auto rows = test::metrics_rows(dir);
    ASSERT_GE(rows.size(), 7u);
    EXPECT_LT(rows[5]["loss"].get<double>(), rows[0]["loss"].get<double>()) << precision;
    EXPECT_GT(rows.back()["top1"].get<double>(), 0.6) << precision << ": eval after 60 steps";
    EXPECT_EQ(rows.back()["count"].get<int64_t>(), 10000);
  }
}
#endif

}  // namespace
}  // namespace bnx
