// The one setup path (see session.h).
#include "train/session.h"

#include <thread>

#include "dist/backend.h"
#include "models/registry.h"
#include "train/errors.h"

namespace bnx::train {
namespace {

void open_data(Session& s) {
  const Config& c = s.config;
  s.train_set = data::make_dataset(c.data, true);
  s.val_set = data::make_dataset(c.data, false);
  const int64_t channels = s.train_set->channels();
  if (static_cast<int64_t>(c.transform.mean.size()) != channels) {
    throw ConfigError("data.mean/data.std have " + std::to_string(c.transform.mean.size()) + " values but the " +
                      "images have " + std::to_string(channels) + " channel(s)");
  }
  s.train_transform = std::make_shared<data::Transform>(c.transform, true, channels);
  s.eval_transform = std::make_shared<data::Transform>(c.transform, false, channels);
}

void build_model(Session& s, const SessionParts& parts) {
  const Config& c = s.config;
  models::ModelOptions o = c.model;
  o.in_channels = s.train_set ? s.train_set->channels() : parts.in_channels;
  if (o.num_classes == 0) o.num_classes = s.train_set ? s.train_set->num_classes() : parts.num_classes;
  if (o.in_channels <= 0 || o.num_classes <= 0) {
    throw ConfigError("the model's input channels and classes are unknown without the data set");
  }
  if (c.model.norm == models::Norm::kSync) o.comm = dist::statistics_group(s.world, c.model.bn_group_size);
  torch::manual_seed(c.train.seed);
  s.model = models::make_model(o, c.transform.crop_size);
  s.model->to(s.device);
}

}  // namespace

int threads_for(const Config& c, const dist::Communicator& comm) {
  if (c.train.threads > 0) return c.train.threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, comm.local_size()));
}

Session open_session(const Config& config, std::shared_ptr<dist::Communicator> world, const SessionParts& parts) {
  Session s;
  s.config = config;
  dist::agree_on_failure(*world, [&] {
    torch::set_num_threads(threads_for(config, *world));
    s.device = select_device(config.train.device, *world);
    if (config.train.precision == Precision::kFloat16 && !s.device.is_cuda()) {
      throw ConfigError("train.precision: fp16 needs a CUDA device (LibTorch's CPU autocast runs bf16 only); use bf16");
    }
    s.loader = config.loader;
    if (s.device.is_cuda()) s.loader.uint8_output = s.loader.pin_memory = true;  // normalized on the GPU
    if (parts.data) open_data(s);
  });
  s.world = dist::communicator_for(s.device, std::move(world), config.dist.nccl_timeout_s);
  dist::agree_on_failure(*s.world, [&] { build_model(s, parts); });
  return s;
}

}  // namespace bnx::train
