// Learning-rate schedules at chosen steps (GoogLeNet's and BN-x30's exponential decay points,
// step, cosine, warm-up, batch scaling) and the optimizer's weight-decay exemption.
#include "train/schedule.h"

#include "models/registry.h"
#include "train/optimizer.h"
#include "tests/test_support.h"

namespace bnx::train {
namespace {

TEST(Schedule, GoogLeNetExponentialDecay) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kExponential;  // x0.96 every 8 epochs
  ScheduleContext c{0.0015, 1000, 100000, 32};
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 0), 0.0015);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 7999), 0.0015);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 8000), 0.0015 * 0.96);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 16000), 0.0015 * 0.96 * 0.96);
}

TEST(Schedule, BNx30DecaysSixTimesFaster) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kExponential;
  o.decay_epochs = 8.0 / 6.0;
  ScheduleContext c{0.045, 300, 100000, 32};  // 300 steps per epoch: a period is 400 steps
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 399), 0.045);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 400), 0.045 * 0.96);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 1200), 0.045 * std::pow(0.96, 3));
  o.staircase = false;
  EXPECT_NEAR(learning_rate(o, c, 200), 0.045 * std::pow(0.96, 0.5), 1e-15);
}

TEST(Schedule, StepCosineWarmupAndBatchScaling) {
  ScheduleOptions o;
  o.kind = ScheduleKind::kStep;
  ScheduleContext c{0.1, 100, 9000, 256};
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 2999), 0.1);
  EXPECT_NEAR(learning_rate(o, c, 3000), 0.01, 1e-15);
  EXPECT_NEAR(learning_rate(o, c, 8000), 0.0001, 1e-15);
  o.kind = ScheduleKind::kCosine;
  o.final_lr = 0.0;
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 0), 0.1);
  EXPECT_NEAR(learning_rate(o, c, 4500), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(o, c, 9000), 0.0, 1e-12);
  o.kind = ScheduleKind::kConstant;
  o.warmup_epochs = 2;  // 200 steps
  EXPECT_NEAR(learning_rate(o, c, 0), 0.1 / 200, 1e-15);
  EXPECT_NEAR(learning_rate(o, c, 99), 0.05, 1e-15);
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 200), 0.1);
  o.warmup_epochs = 0;
  o.scale_with_batch = true;
  c.global_batch = 1024;
  EXPECT_DOUBLE_EQ(learning_rate(o, c, 5), 0.4);
}

TEST(Optimizer, WeightDecayExemptsBnAndBiases) {
  models::ModelOptions mo;
  mo.name = "resnet18";
  auto model = models::make_model(mo, 224);
  OptimOptions o;
  o.no_decay_bn_bias = true;
  o.weight_decay = 1e-4;
  auto opt = make_optimizer(o, *model);
  ASSERT_EQ(opt->param_groups().size(), 2u);
  auto& decay = opt->param_groups()[0];
  auto& none = opt->param_groups()[1];
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(decay.options()).weight_decay(), 1e-4);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(none.options()).weight_decay(), 0.0);
  for (auto& p : decay.params()) EXPECT_GT(p.dim(), 1);
  for (auto& p : none.params()) EXPECT_EQ(p.dim(), 1);
  // 20 conv + 1 fc weights decay; 20 BN x 2 + fc bias do not.
  EXPECT_EQ(decay.params().size(), 21u);
  EXPECT_EQ(none.params().size(), 41u);
  set_learning_rate(*opt, 0.25);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::SGDOptions&>(none.options()).lr(), 0.25);
}

TEST(Optimizer, RmspropMatchesLibTorchsRmsprop) {
  torch::manual_seed(1);
  torch::nn::Linear a(4, 3), b(4, 3);
  {
    torch::NoGradGuard no_grad;
    b->weight.copy_(a->weight);
    b->bias.copy_(a->bias);
  }
  OptimOptions o;
  o.kind = OptimizerKind::kRmsprop;
  o.lr = 0.01;
  o.momentum = 0.9;
  o.weight_decay = 1e-3;
  auto ours = make_optimizer(o, *a);
  torch::optim::RMSprop ref(b->parameters(),
                            torch::optim::RMSpropOptions(0.01).alpha(0.9).eps(1.0).momentum(0.9).weight_decay(1e-3));
  for (int step = 0; step < 3; ++step) {
    torch::Tensor x = torch::randn({5, 4});
    ours->zero_grad();
    ref.zero_grad();
    a->forward(x).square().sum().backward();
    b->forward(x).square().sum().backward();
    ours->step();
    ref.step();
  }
  EXPECT_FALSE(torch::equal(a->weight, torch::zeros_like(a->weight)));
  EXPECT_ALL_CLOSE(a->weight, b->weight, 1e-6, 1e-7);
  EXPECT_ALL_CLOSE(a->bias, b->bias, 1e-6, 1e-7);
}

}  // namespace
}  // namespace bnx::train
