// Benchmarks behind `bnx bench` (see bench.h). Timings are medians over iterations after a warm-up.
#include "train/bench.h"

#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "data/image_folder.h"
#include "data/loader.h"
#include "dist/gradient_reducer.h"
#include "models/registry.h"
#include "models/sync_batch_norm.h"
#include "train/config.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double seconds(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int bench_syncbn(std::shared_ptr<dist::Communicator> world, int iterations, int64_t batch) {
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / world->local_size()));
  struct Setup {
    std::shared_ptr<models::Model> model;
    std::unique_ptr<dist::GradientReducer> reducer;
    std::unique_ptr<torch::optim::SGD> opt;
    std::vector<double> times;
  };
  auto make = [&](models::Norm norm) {
    models::ModelOptions o;
    o.name = "resnet18";
    o.num_classes = 100;
    o.norm = norm;
    o.comm = world;
    torch::manual_seed(0);
    Setup s;
    s.model = models::make_model(o, 64);
    dist::NamedTensors params, buffers;
    for (auto& p : s.model->named_parameters()) params.emplace_back(p.key(), p.value());
    for (auto& b : s.model->named_buffers()) buffers.emplace_back(b.key(), b.value());
    s.reducer = std::make_unique<dist::GradientReducer>(world, params, buffers);
    s.opt = std::make_unique<torch::optim::SGD>(s.model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    return s;
  };
  Setup sync = make(models::Norm::kSync), local = make(models::Norm::kBatch);
  auto gen = at::detail::createCPUGenerator(world->rank());
  torch::Tensor x = torch::randn({batch, 3, 64, 64}, gen);
  torch::Tensor y = torch::randint(0, 100, {batch}, gen);
  auto step = [&](Setup& s) {
    world->barrier();
    auto t0 = Clock::now();
    s.opt->zero_grad();
    torch::nn::functional::cross_entropy(s.model->forward(x), y).backward();
    s.reducer->finish();
    s.opt->step();
    world->barrier();
    return seconds(t0);
  };
  for (int i = 0; i < 3; ++i) step(sync), step(local);  // warm-up
  for (int i = 0; i < iterations; ++i) {
    sync.times.push_back(step(sync));  // interleaved so both see the same machine noise
    local.times.push_back(step(local));
  }
  // Communication per step of the synchronized model: BN (2C+1 forward, 2C backward float64) + gradients.
  int64_t bn_layers = 0, bn_bytes = 0;
  for (auto& m : sync.model->modules(false)) {
    if (auto* bn = m->as<models::SyncBatchNormImpl>()) {
      ++bn_layers;
      bn_bytes += (4 * bn->options().num_features() + 1) * 8;
    }
  }
  if (world->rank() == 0) {
    const double ts = median(sync.times), tl = median(local.times);
    std::printf("| %d | %lld | %.1f | %.1f | %.3f | %lld + %lld | %.1f KB + %.1f MB |\n", world->size(),
                static_cast<long long>(batch), 1000 * ts, 1000 * tl, ts / tl, static_cast<long long>(2 * bn_layers),
                static_cast<long long>(sync.reducer->collectives_last_step()), bn_bytes / 1024.0,
                sync.reducer->bytes_last_step() / 1048576.0);
  }
  return 0;
}

int bench_model(const std::string& name, int iterations, int threads) {
  torch::set_num_threads(threads);
  models::ModelOptions o;
  o.name = name;
  torch::manual_seed(0);
  auto model = models::make_model(o, 224);
  model->train();
  torch::Tensor x = torch::randn({16, 3, 224, 224});
  torch::Tensor y = torch::randint(0, 1000, {16});
  std::vector<double> fwd, fwdbwd;
  for (int i = 0; i < iterations + 2; ++i) {
    auto t0 = Clock::now();
    {
      torch::NoGradGuard no_grad;
      model->forward(x);
    }
    const double f = seconds(t0);
    model->zero_grad();
    t0 = Clock::now();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    const double fb = seconds(t0);
    if (i >= 2) fwd.push_back(f), fwdbwd.push_back(fb);  // two warm-up iterations
  }
  std::printf("{\"impl\": \"bnx\", \"model\": \"%s\", \"parameters\": %lld, \"forward_s\": %.4f, \"forward_backward_s\": %.4f}\n",
              name.c_str(), static_cast<long long>(models::parameter_count(*model)), median(fwd), median(fwdbwd));
  return 0;
}

int bench_train(const std::string& name, const BenchTrainOptions& o, std::shared_ptr<dist::Communicator> world) {
  const torch::Device device = select_device(o.device, *world);
  if (o.precision == Precision::kFloat16 && !device.is_cuda()) {
    throw std::invalid_argument("bench train: fp16 needs a CUDA device");
  }
  world = communicator_for(device, world, 600);
  models::ModelOptions mo;
  mo.name = name;
  mo.norm = o.norm;
  mo.comm = world;
  torch::manual_seed(0);
  auto model = models::make_model(mo, o.size);
  model->to(device);
  model->train();
  dist::NamedTensors params, buffers;
  for (auto& p : model->named_parameters()) params.emplace_back(p.key(), p.value());
  std::unique_ptr<dist::GradientReducer> reducer;
  if (world->size() > 1) reducer = std::make_unique<dist::GradientReducer>(world, params, buffers);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  auto on_device = torch::TensorOptions().device(device);
  torch::Tensor x = torch::randn({o.batch, 3, o.size, o.size}, on_device);  // (B, 3, S, S)
  torch::Tensor y = torch::randint(0, 1000, {o.batch}, on_device.dtype(torch::kInt64));
  std::optional<LossScaler> scaler;
  if (o.precision == Precision::kFloat16) scaler.emplace();
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  std::vector<double> times;
  for (int i = 0; i < o.iterations + 3; ++i) {
    sync();
    const auto t0 = Clock::now();
    sgd.zero_grad();
    torch::Tensor loss;
    {
      AutocastScope autocast(device, o.precision);
      loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    }
    (scaler ? scaler->scale(loss) : loss).backward();
    if (reducer) reducer->finish();
    const bool finite = !scaler || scaler->unscale_and_check(model->parameters());
    if (scaler) scaler->update(finite);
    if (finite) sgd.step();
    sync();
    if (i >= 3) times.push_back(seconds(t0));  // three warm-up steps (cuDNN autotuning)
  }
  auto name_of = [](const auto& table, auto value) {
    for (const auto& [name, v] : table) {
      if (v == value) return name;
    }
    return std::string("?");
  };
  const std::string precision = name_of(precision_names(), o.precision), norm = name_of(norm_names(), o.norm);
  const std::string device_name = device.is_cuda() ? std::string("cuda:") + std::to_string(device.index()) : "cpu";
  if (world->rank() == 0) {
    std::printf("{\"impl\": \"bnx\", \"model\": \"%s\", \"device\": \"%s\", \"ranks\": %d, \"norm\": \"%s\", "
                "\"precision\": \"%s\", \"batch_per_rank\": %lld, \"step_s\": %.5f, \"images_per_s_per_rank\": %.1f}\n",
                name.c_str(), device_name.c_str(), world->size(), norm.c_str(), precision.c_str(),
                static_cast<long long>(o.batch), median(times), o.batch / median(times));
  }
  return 0;
}

int bench_loader(const std::string& folder, int images, int max_threads) {
  auto ds = data::ImageFolder::open(folder, true);
  const int64_t n = std::min<int64_t>(images, ds->size());
  std::vector<std::vector<uint8_t>> bytes;
  for (int64_t i = 0; i < n; ++i) bytes.push_back(ds->encoded(i));  // warm the page cache
  data::TransformOptions o;  // RandomResizedCrop 224, flip, ImageNet normalization
  auto transform = std::make_shared<data::Transform>(o, true, 3);
  for (int threads = 1; threads <= max_threads; ++threads) {
    // Decode only (the ceiling): cv::imdecode of every file, split over `threads` threads.
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    cv::setNumThreads(1);
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int64_t i = t; i < n; i += threads) {
          cv::Mat m = cv::imdecode(ds->encoded(i), cv::IMREAD_COLOR);
          if (m.empty()) std::abort();
        }
      });
    }
    for (auto& p : pool) p.join();
    const double decode_rate = n / seconds(t0);
    // The full pipeline through the loader, batches of 32.
    std::vector<std::vector<int64_t>> batches;
    for (int64_t i = 0; i + 32 <= n; i += 32) {
      batches.emplace_back();
      for (int64_t j = i; j < i + 32; ++j) batches.back().push_back(j);
    }
    t0 = Clock::now();
    data::Loader loader(ds, transform, {threads, 4}, batches, 1, 0);
    int64_t count = 0;
    while (auto b = loader.next()) count += b->labels.size(0);
    const double rate = count / seconds(t0);
    std::printf("{\"impl\": \"bnx\", \"threads\": %d, \"images\": %lld, \"pipeline_img_s\": %.1f, \"decode_only_img_s\": %.1f}\n",
                threads, static_cast<long long>(count), rate, decode_rate);
  }
  return 0;
}

}  // namespace bnx::train
