// Evaluation (see evaluate.h).
#include "train/evaluate.h"

#include "data/sampler.h"
#include "models/sync_batch_norm.h"
#include "train/device.h"

namespace bnx::train {
namespace {

// Where the model's parameters live (CPU for a model without any).
torch::Device device_of(const models::Model& model) {
  const auto params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace

std::pair<int64_t, int64_t> correct_counts(const torch::Tensor& logits, const torch::Tensor& labels) {
  if (logits.size(0) == 0) return {0, 0};
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  torch::Tensor top = std::get<1>(logits.topk(k, 1));              // (N, k)
  torch::Tensor hit = top.eq(labels.view({-1, 1}));                // (N, k)
  return {hit.select(1, 0).sum().item<int64_t>(), hit.any(1).sum().item<int64_t>()};
}

EvalResult evaluate(models::Model& model, std::shared_ptr<const data::Dataset> dataset,
                    std::shared_ptr<const data::Transform> transform, const data::LoaderOptions& loader_options,
                    int64_t batch_size, dist::Communicator& comm) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(model);
  auto [begin, end] = data::eval_shard(dataset->size(), comm.rank(), comm.size());
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i = begin; i < end; i += batch_size) {
    std::vector<int64_t> b;
    for (int64_t j = i; j < std::min(end, i + batch_size); ++j) b.push_back(j);
    batches.push_back(std::move(b));
  }
  data::Loader loader(dataset, transform, loader_options, std::move(batches), 0, 0);
  double loss_sum = 0;
  int64_t top1 = 0, top5 = 0, count = 0;
  const auto& t = transform->options();
  while (auto batch = loader.next()) {
    torch::Tensor labels = batch->labels.to(device, /*non_blocking=*/true);  // (n,)
    torch::Tensor logits = model.forward(images_to(batch->images, device, t.mean, t.std));  // (n or 10 n, classes)
    if (loader_options.ten_crop) logits = logits.view({labels.size(0), 10, -1}).mean(1);  // (n, classes)
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    auto [c1, c5] = correct_counts(logits, labels);
    top1 += c1;
    top5 += c5;
    count += labels.size(0);
  }
  torch::Tensor totals = torch::tensor({loss_sum, double(top1), double(top5), double(count)}, torch::kFloat64);
  comm.allreduce(totals, dist::ReduceOp::kSum);
  model.train(was_training);
  EvalResult r;
  r.count = static_cast<int64_t>(totals[3].item<double>());
  const double n = std::max<double>(1, r.count);
  r.loss = totals[0].item<double>() / n;
  r.top1 = totals[1].item<double>() / n;
  r.top5 = totals[2].item<double>() / n;
  return r;
}

int recompute_bn_statistics(models::Model& model, data::Loader& batches, const data::TransformOptions& transform) {
  std::vector<models::SyncBatchNormImpl*> layers;
  for (auto& m : model.modules(false)) {
    if (auto* bn = m->as<models::SyncBatchNormImpl>()) {
      if (bn->running_mean.defined()) layers.push_back(bn);
    }
  }
  std::vector<std::optional<double>> momenta;
  model.eval();
  for (auto* bn : layers) {
    momenta.push_back(bn->options().momentum());
    bn->set_momentum(std::nullopt);  // cumulative average: running = mean over the batches seen
    bn->reset_running_stats();
    bn->train();
  }
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(model);
  while (auto batch = batches.next()) {
    model.forward(images_to(batch->images, device, transform.mean, transform.std));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    layers[i]->set_momentum(momenta[i]);
    layers[i]->eval();
  }
  return static_cast<int>(layers.size());
}

}  // namespace bnx::train
