// train/precision and train/device on CPU: the loss scaler's unscaling, overflow skip, backoff and
// growth; the autocast scope (bf16 activations inside, float32 after, nesting restored); device
// selection on a CPU build (cpu, auto -> cpu, cuda -> an error naming the rank); uint8 batches
// normalized by images_to equal the loader's float32 normalization; and a bf16/fp16 training run
// against float32.

#include <filesystem>

#include "data/transforms.h"
#include "train/device.h"
#include "dist/backend.h"
#include "train/precision.h"
#include "train/cli/config.h"
#include "train/run.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

TEST(LossScaler, UnscalesSkipsOverflowsBacksOffAndGrows) {
  LossScalerOptions o;
  o.initial_scale = 1024;
  o.growth_interval = 3;
  LossScaler scaler(o);
  torch::Tensor p = torch::zeros({3}, torch::requires_grad());
  scaler.scale((p * torch::tensor({1.0f, 2.0f, 3.0f})).sum()).backward();
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({1024.0f, 2048.0f, 3072.0f})));
  EXPECT_TRUE(scaler.unscale_and_check({p}));
  EXPECT_TRUE(torch::equal(p.grad(), torch::tensor({1.0f, 2.0f, 3.0f})));  // powers of two: exact
  scaler.update(true);
  scaler.update(true);
  EXPECT_EQ(scaler.current_scale(), 1024);
  scaler.update(true);  // third clean step: grows
  EXPECT_EQ(scaler.current_scale(), 2048);
  EXPECT_EQ(scaler.clean_steps(), 0);
  p.mutable_grad().fill_(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(scaler.unscale_and_check({p}));
  scaler.update(false);
  EXPECT_EQ(scaler.current_scale(), 1024);
  p.mutable_grad().fill_(std::nanf(""));
  EXPECT_FALSE(scaler.unscale_and_check({p}));
  scaler.restore(8, 2);
  EXPECT_EQ(scaler.current_scale(), 8);
  EXPECT_EQ(scaler.clean_steps(), 2);
  EXPECT_ANY_THROW(scaler.restore(-1, 0));
}

TEST(Autocast, Bf16InsideFloat32AfterAndNestingRestored) {
  torch::nn::Linear linear(4, 3);
  torch::Tensor x = torch::randn({2, 4});
  {
    AutocastScope outer(torch::kCPU, Precision::kBFloat16);
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    {
      AutocastScope none(torch::kCPU, Precision::kFloat32);  // float32: leaves autocast as it is
      EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
    }
    EXPECT_EQ(linear->forward(x).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(linear->forward(x).scalar_type(), torch::kFloat32);
}

TEST(Device, CpuBuildSelectsCpuAndRejectsCuda) {
  auto comm = test::world();
  EXPECT_EQ(select_device(DeviceKind::kCpu, *comm), torch::Device(torch::kCPU));
  if (torch::cuda::is_available()) GTEST_SKIP() << "CUDA present: the CUDA cases are in the GPU check";
  EXPECT_EQ(select_device(DeviceKind::kAuto, *comm), torch::Device(torch::kCPU));
  EXPECT_EQ(dist::communicator_for(torch::kCPU, comm, 10).get(), comm.get());
#ifndef BNX_WITH_NCCL
  try {
    select_device(DeviceKind::kCuda, *comm);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: train.device is cuda, but this bnx was built against a CPU-only"),
              std::string::npos)
        << e.what();
  }
#endif
}

// The GPU path's uint8 batches, normalized on the device, equal the CPU path's float32 batches.
TEST(Device, Uint8BatchesNormalizeAsTheLoaderDoes) {
  cv::Mat image(9, 7, CV_8UC3);
  cv::randu(image, 0, 256);
  data::TransformOptions o;
  o.crop_size = 5;
  o.resize = 5;
  data::Transform t(o, false, 3);
  torch::Tensor as_float = torch::empty({1, 3, 5, 5}), as_uint8 = torch::empty({1, 3, 5, 5}, torch::kUInt8);
  data::Rng rng({1});
  t.apply(image, rng, as_float.data_ptr());
  t.apply(image, rng, as_uint8.data_ptr(), /*out_uint8=*/true);
  torch::Tensor normalized = images_to(as_uint8, torch::kCPU, o.mean, o.std);
  EXPECT_EQ(normalized.scalar_type(), torch::kFloat32);
  EXPECT_ALL_CLOSE(normalized, as_float, 1e-6, 1e-6);
  EXPECT_TRUE(torch::equal(images_to(as_float, torch::kCPU, o.mean, o.std), as_float));  // float: moved only
}

std::vector<double> losses_of(const std::string& precision, const std::string& name) {
  Config config = cli::parse_config(R"(
name: precision
model: {name: bn_inception, norm: batch, width: 0.0625, small_input: true}
data: {kind: idx, crop_size: 28, resize: 28, random_resized_crop: false, flip: false, mean: [0.286], std: [0.353], threads: 1}
train: {batch_size: 32, steps: 8, seed: 3, threads: 2}
optim: {lr: 0.05, momentum: 0.9}
eval: {every_steps: 0, batch_size: 1000}
log: {every_steps: 1}
)",
                               "precision", {"train.precision=" + precision});
  const fs::path dir = test::scratch_dir("precision_" + name);
  EXPECT_EQ(run_training(config, test::world(), {dir.string(), "", cli::to_yaml(config), true, {}}).end, FitEnd::kFinished);
  const auto losses = test::train_losses(dir);
  return losses;
}

// bf16 autocast trains the same model as float32 within bf16 rounding: the same first loss within
// 1%, trajectories within 5% on average (they drift apart as the weights do), and it learns. fp16
// on CPU is a config error (LibTorch's CPU autocast has bf16 only): the loss scaler's trainer path
// runs in the GPU check.
TEST(Trainer, Bf16TracksFloat32AndFp16NeedsCuda) {
  const auto fp32 = losses_of("fp32", "fp32");
  const auto bf16 = losses_of("bf16", "bf16");
  ASSERT_EQ(fp32.size(), 8u);
  ASSERT_EQ(bf16.size(), 8u);
  EXPECT_NEAR(bf16[0], fp32[0], 0.01 * fp32[0]);
  double fp32_mean = 0, bf16_mean = 0;
  for (size_t i = 0; i < fp32.size(); ++i) fp32_mean += fp32[i] / 8, bf16_mean += bf16[i] / 8;
  EXPECT_NEAR(bf16_mean, fp32_mean, 0.05 * fp32_mean);
  EXPECT_LT(bf16.back(), bf16.front());
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(losses_of("fp16", "fp16"), ConfigError);
  }
}

}  // namespace
}  // namespace bnx::train
