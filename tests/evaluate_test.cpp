// Evaluation helpers: top-1/top-5 counting, and BN re-estimation (Algorithm 2) against a
// hand-computed reference: E[x] = mean of batch means, Var[x] = m/(m-1) x mean of batch variances.
#include "train/evaluate.h"

#include "data/synthetic.h"
#include "models/mlp.h"
#include "tests/test_support.h"

namespace bnx::train {
namespace {

TEST(Evaluate, TopKCounts) {
  torch::Tensor logits = torch::tensor({{0.1, 0.9, 0.0, 0.0, 0.0, 0.0}, {0.5, 0.1, 0.2, 0.3, 0.4, 0.0}, {1.0, 0.0, 0.0, 0.0, 0.0, 0.9}});
  torch::Tensor labels = torch::tensor({int64_t{1}, int64_t{2}, int64_t{5}});
  auto [top1, top5] = correct_counts(logits, labels);
  EXPECT_EQ(top1, 1);  // only the first
  EXPECT_EQ(top5, 3);  // label 2 is 4th of row 2, label 5 is 2nd of row 3
}

TEST(Evaluate, RecomputeBnFollowsAlgorithm2) {
  auto ds = std::make_shared<data::SyntheticDataset>(48, 3, 4, 1, 7);
  data::TransformOptions to;
  to.crop_size = 4;
  to.resize = 4;
  to.mean = {0.5};
  to.std = {0.25};
  auto transform = std::make_shared<data::Transform>(to, false, 1);
  models::ModelOptions mo;
  mo.name = "mlp";
  mo.num_classes = 3;
  mo.mlp_layers = 1;
  mo.mlp_hidden = 5;
  auto owner = std::make_shared<models::Mlp>(mo, 16);
  models::Mlp& model = *owner;
  std::vector<std::vector<int64_t>> batches = {{0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15}, {20, 21, 22, 23, 24, 25, 26, 27}};
  // Reference: the pre-BN activations fc1(x) of each batch.
  torch::Tensor mean_sum = torch::zeros({5}, torch::kFloat64), var_sum = torch::zeros({5}, torch::kFloat64);
  {
    data::Loader loader(ds, transform, {1, 2}, batches, 0, 0);
    auto* fc1 = model.named_modules()["fc1"]->as<torch::nn::LinearImpl>();
    torch::NoGradGuard no_grad;
    while (auto b = loader.next()) {
      torch::Tensor h = fc1->forward(b->images.flatten(1)).to(torch::kFloat64);  // (8, 5)
      mean_sum += h.mean(0);
      var_sum += h.var(0, /*unbiased=*/false);
    }
  }
  const double m = 8;
  data::Loader loader(ds, transform, {2, 2}, batches, 0, 0);
  EXPECT_EQ(recompute_bn_statistics(model, loader, to), 1);
  auto* bn = model.named_modules()["bn1"]->as<models::SyncBatchNormImpl>();
  EXPECT_ALL_CLOSE(bn->running_mean, mean_sum / 3, 1e-5, 1e-6);
  EXPECT_ALL_CLOSE(bn->running_var, m / (m - 1) * var_sum / 3, 1e-5, 1e-6);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 3);
  EXPECT_FALSE(bn->is_training());
  EXPECT_DOUBLE_EQ(*bn->options().momentum(), 0.1);  // restored
}

}  // namespace
}  // namespace bnx::train
