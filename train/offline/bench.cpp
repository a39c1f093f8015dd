// Benchmarks behind `bnx bench` (see bench.h). Timings are medians over iterations after a warm-up.
#include "train/offline/bench.h"

#include <opencv2/core/utility.hpp>
#ifdef BNX_WITH_IMGCODECS
#include <opencv2/imgcodecs.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "data/image_folder.h"
#include "data/loader.h"
#include "dist/mirror_communicator.h"
#include "models/registry.h"
#include "models/sync_batch_norm.h"
#include "train/trainer.h"

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

namespace {

// The shape of a benchmark's synthetic input: (channels, size, size) images in `classes` classes.
struct InputShape {
  int64_t channels = 3, size = 224, classes = 1000;
};

// A Trainer on synthetic data of `shape` for `model`, `batch` images per rank, SGD lr 0.01 momentum
// 0.9, built by the same setup as `bnx train`.
std::unique_ptr<Trainer> bench_trainer(const models::ModelOptions& model, InputShape shape, int64_t batch, int threads,
                                       DeviceKind device, Precision precision,
                                       std::shared_ptr<dist::Communicator> world) {
  Config c;
  c.name = "bench";
  c.model = model;
  c.model.num_classes = shape.classes;
  c.data.kind = data::DatasetKind::kSynthetic;
  c.data.synthetic_size = batch * world->size();
  c.data.synthetic_classes = shape.classes;
  c.data.synthetic_channels = shape.channels;
  c.data.synthetic_image_size = shape.size;
  c.transform.crop_size = c.transform.resize = shape.size;
  c.transform.mean.assign(shape.channels, 0.0);  // the synthetic input is already normalized
  c.transform.std.assign(shape.channels, 1.0);
  c.train.batch_size = batch * world->size();
  c.train.steps = 1;
  c.train.seed = 0;
  c.train.threads = threads;
  c.train.device = device;
  c.train.precision = precision;
  c.optim.lr = 0.01;
  c.optim.momentum = 0.9;
  c.optim.weight_decay = 0;
  return std::make_unique<Trainer>(open_session(c, std::move(world)), "");
}

std::unique_ptr<Trainer> bench_trainer(const std::string& name, models::Norm norm, int64_t size, int64_t batch,
                                       DeviceKind device, std::shared_ptr<dist::Communicator> world) {
  models::ModelOptions model;
  model.name = name;
  model.norm = norm;
  return bench_trainer(model, {3, size, 100}, batch, 0, device, Precision::kFloat32, std::move(world));
}

// A fixed batch on the trainer's device: (B, C, S, S) normalized, (B,) labels.
data::Batch fixed_batch(const Trainer& t, int64_t batch, InputShape shape) {
  auto gen = at::detail::createCPUGenerator(t.world().rank());
  auto on_device = torch::TensorOptions().device(t.session().device);
  data::Batch b;
  b.images = torch::randn({batch, shape.channels, shape.size, shape.size}, gen).to(on_device);
  b.labels = torch::randint(0, shape.classes, {batch}, gen).to(on_device);
  return b;
}

}  // namespace

int bench_syncbn(std::shared_ptr<dist::Communicator> world, int iterations, int64_t batch) {
  auto sync = bench_trainer("resnet18", models::Norm::kSync, 64, batch, DeviceKind::kCpu, world);
  auto local = bench_trainer("resnet18", models::Norm::kBatch, 64, batch, DeviceKind::kCpu, world);
  const data::Batch b = fixed_batch(*sync, batch, {3, 64, 100});
  std::vector<double> sync_times, local_times;
  auto step = [&](Trainer& t) {
    world->barrier();
    auto t0 = Clock::now();
    t.step(b);
    world->barrier();
    return seconds(t0);
  };
  for (int i = 0; i < 3; ++i) step(*sync), step(*local);  // warm-up
  for (int i = 0; i < iterations; ++i) {
    sync_times.push_back(step(*sync));  // interleaved so both see the same machine noise
    local_times.push_back(step(*local));
  }
  // Communication per step of the synchronized model: BN (2C+1 forward, 2C backward float64) + gradients.
  int64_t bn_layers = 0, bn_bytes = 0;
  for (auto& m : sync->model().modules(false)) {
    if (auto* bn = m->as<models::SyncBatchNormImpl>()) {
      ++bn_layers;
      bn_bytes += (4 * bn->options().num_features() + 1) * 8;
    }
  }
  if (world->rank() == 0) {
    const double ts = median(sync_times), tl = median(local_times);
    const dist::GradientReducer* reducer = sync->reducer();
    std::printf("| %d | %lld | %.1f | %.1f | %.3f | %lld + %lld | %.1f KB + %.1f MB |\n", world->size(),
                static_cast<long long>(batch), 1000 * ts, 1000 * tl, ts / tl, static_cast<long long>(2 * bn_layers),
                static_cast<long long>(reducer ? reducer->collectives_last_step() : 0), bn_bytes / 1024.0,
                (reducer ? reducer->bytes_last_step() : 0) / 1048576.0);
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
  models::ModelOptions model;
  model.name = name;
  InputShape shape{3, o.size, 1000};
  if (o.config) {
    const Config& c = *o.config;
    model = c.model;
    shape.size = c.transform.crop_size;
    shape.channels = c.data.kind == data::DatasetKind::kIdx         ? 1
                     : c.data.kind == data::DatasetKind::kSynthetic ? c.data.synthetic_channels
                                                                    : 3;
    shape.classes = c.model.num_classes > 0 ? c.model.num_classes : c.data.kind == data::DatasetKind::kIdx ? 10 : 1000;
  }
  model.norm = o.norm;
  if (o.mirror && o.norm != models::Norm::kSync) {
    throw InputError("bench train --mirror times SyncBatchNorm's distributed function: use --norm sync");
  }
  auto trainer = bench_trainer(model, shape, o.batch, o.threads, o.device, o.precision, std::move(world));
  if (o.mirror) {
    if (trainer->world().size() != 1) throw InputError("bench train --mirror: simulates the second rank itself; run it on one rank");
    models::convert_sync_batchnorm(trainer->model(), std::make_shared<dist::MirrorCommunicator>());
  }
  const data::Batch b = fixed_batch(*trainer, o.batch, shape);
  const torch::Device device = trainer->session().device;
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  std::vector<double> times;
  for (int i = 0; i < o.iterations + 3; ++i) {
    sync();
    const auto t0 = Clock::now();
    trainer->step(b);
    sync();
    if (i >= 3) times.push_back(seconds(t0));  // three warm-up steps (cuDNN autotuning)
  }
  const std::string& precision = o.precision_name;
  const std::string& norm = o.norm_name;
  const std::string device_name = device.is_cuda() ? std::string("cuda:") + std::to_string(device.index()) : "cpu";
  if (trainer->lead()) {
    std::printf("{\"impl\": \"bnx\", \"model\": \"%s\", \"device\": \"%s\", \"ranks\": %d, \"norm\": \"%s\", "
                "\"precision\": \"%s\", \"batch_per_rank\": %lld, \"threads\": %d, \"parameters\": %lld, \"step_s\": %.5f, "
                "\"images_per_s_per_rank\": %.1f, \"device_memory_mb\": %.0f}\n",
                (o.config ? o.config->name : name).c_str(), device_name.c_str(), trainer->world().size(), norm.c_str(), precision.c_str(),
                static_cast<long long>(o.batch), torch::get_num_threads(),
                static_cast<long long>(models::parameter_count(trainer->model())), median(times),
                o.batch / median(times), device_memory_in_use(device) / 1048576.0);
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
#ifdef BNX_WITH_IMGCODECS
          cv::Mat m = cv::imdecode(ds->encoded(i), cv::IMREAD_COLOR);
          if (m.empty()) std::abort();
#else
          ds->load(i);  // without OpenCV's codecs: bnx's own whole-image decode
#endif
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
