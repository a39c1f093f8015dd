// YAML config parsing and validation through one table of typed fields (see config.h).
#include "train/cli/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "models/registry.h"
#include "train/errors.h"

namespace bnx::cli {

using train::Config;
using train::ConfigError;
using train::DeviceKind;
using train::OptimizerKind;
using train::Precision;
using train::ScheduleKind;
namespace {

// Where a value came from: "file:line" or "--set".
struct Item {
  YAML::Node node;
  std::string where;
};

struct Field {
  std::string key;
  std::string help;
  bool required = false;
  std::function<void(Config&, const YAML::Node&, const std::string& where)> set;
  std::function<YAML::Node(const Config&)> get;
};

[[noreturn]] void bad_value(const std::string& where, const std::string& key, const YAML::Node& node,
                            const std::string& allowed) {
  std::string value = node.IsScalar() ? "'" + node.Scalar() + "'" : "a " + std::string(node.IsSequence() ? "list" : "mapping");
  throw ConfigError(where + ": " + key + ": got " + value + ", expected " + allowed);
}

std::string number_text(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

std::string range_text(double lo, double hi, const char* kind) {
  const double inf = std::numeric_limits<double>::infinity();
  std::string text = kind;
  if (lo > -inf && hi < inf) return text + " in [" + number_text(lo) + ", " + number_text(hi) + "]";
  if (lo > -inf) return text + " >= " + number_text(lo);
  return text;
}

template <class T>
using Access = std::function<T&(Config&)>;

#define ACCESS_MODEL_NAME Access<std::string>([](Config& c) -> std::string& { return c.model.name; })

template <class T>
T& at(const Access<T>& access, const Config& c) {
  return access(const_cast<Config&>(c));
}

Field number(const std::string& key, Access<double> access, double lo, double hi, const std::string& help) {
  Field f;
  f.key = key;
  f.help = help;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v) || v < lo || v > hi) {
      bad_value(where, key, n, range_text(lo, hi, "a number"));
    }
    access(c) = v;
  };
  f.get = [=](const Config& c) { return YAML::Node(number_text(at(access, c))); };
  return f;
}

template <class Int>
Field integer(const std::string& key, Access<Int> access, int64_t lo, int64_t hi, const std::string& help) {
  Field f;
  f.key = key;
  f.help = help;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    int64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) || v < lo || v > hi) {
      bad_value(where, key, n, range_text(double(lo), hi == INT64_MAX ? std::numeric_limits<double>::infinity() : double(hi), "an integer"));
    }
    access(c) = static_cast<Int>(v);
  };
  f.get = [=](const Config& c) { return YAML::Node(static_cast<int64_t>(at(access, c))); };
  return f;
}

Field boolean(const std::string& key, Access<bool> access, const std::string& help) {
  Field f;
  f.key = key;
  f.help = help;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) bad_value(where, key, n, "true or false");
    access(c) = v;
  };
  f.get = [=](const Config& c) { return YAML::Node(at(access, c)); };
  return f;
}

Field text(const std::string& key, Access<std::string> access, const std::string& help) {
  Field f;
  f.key = key;
  f.help = help;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar()) bad_value(where, key, n, "a string");
    access(c) = n.Scalar();
  };
  f.get = [=](const Config& c) { return YAML::Node(at(access, c)); };
  return f;
}

template <class E>
Field choice(const std::string& key, Access<E> access, std::vector<std::pair<std::string, E>> names,
             const std::string& help) {
  std::string allowed;
  for (const auto& [name, value] : names) allowed += (allowed.empty() ? "one of " : ", ") + name;
  Field f;
  f.key = key;
  f.help = help + " (" + allowed + ")";
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    if (n.IsScalar()) {
      for (const auto& [name, value] : names) {
        if (n.Scalar() == name) {
          access(c) = value;
          return;
        }
      }
    }
    bad_value(where, key, n, allowed);
  };
  f.get = [=](const Config& c) {
    for (const auto& [name, value] : names) {
      if (at(access, c) == value) return YAML::Node(name);
    }
    return YAML::Node("?");
  };
  return f;
}

Field numbers(const std::string& key, Access<std::vector<double>> access, const std::string& help) {
  Field f;
  f.key = key;
  f.help = help;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    std::vector<double> v;
    YAML::Node list = n;
    if (n.IsScalar()) list = YAML::Load("[" + n.Scalar() + "]");  // --set key=1,2,3
    if (!list.IsSequence()) bad_value(where, key, n, "a list of numbers");
    for (const auto& item : list) {
      double x = 0;
      if (!item.IsScalar() || !YAML::convert<double>::decode(item, x) || !std::isfinite(x)) {
        bad_value(where, key, n, "a list of numbers");
      }
      v.push_back(x);
    }
    access(c) = v;
  };
  f.get = [=](const Config& c) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (double x : at(access, c)) list.push_back(number_text(x));
    list.SetStyle(YAML::EmitterStyle::Flow);
    return list;
  };
  return f;
}

// model.name: one of the registry's names (the error, with file:line, lists them).
Field model_name() {
  std::string valid;
  for (const auto& name : models::model_names()) valid += (valid.empty() ? "" : ", ") + name;
  Field f = text("model.name", ACCESS_MODEL_NAME, "the model: " + valid);
  auto set = f.set;
  f.set = [=](Config& c, const YAML::Node& n, const std::string& where) {
    set(c, n, where);
    const auto names = models::model_names();
    if (std::find(names.begin(), names.end(), c.model.name) == names.end()) {
      bad_value(where, "model.name", n, "a model name (valid models: " + valid + ")");
    }
  };
  return f;
}

Field required(Field f) {
  f.required = true;
  return f;
}

#define ACCESS(T, member) Access<T>([](Config& c) -> T& { return c.member; })

const std::vector<Field>& fields() {
  using models::Activation;
  using models::Init;
  using models::Norm;
  const double inf = std::numeric_limits<double>::infinity();
  static const std::vector<Field> table = {
      text("name", ACCESS(std::string, name), "run name (for metrics and plots)"),
      required(model_name()),
      integer<int64_t>("model.num_classes", ACCESS(int64_t, model.num_classes), 0, 1 << 20,
                       "classes (0 = from the data set)"),
      choice<Norm>("model.norm", ACCESS(Norm, model.norm),
                   norm_names(),
                   "batch normalization: none, per-rank, or synchronized over ranks"),
      choice<Activation>("model.activation", ACCESS(Activation, model.activation),
                         {{"relu", Activation::kRelu}, {"sigmoid", Activation::kSigmoid}}, "nonlinearity"),
      number("model.dropout", ACCESS(double, model.dropout), 0, 0.99, "dropout before the classifier"),
      boolean("model.lrn", ACCESS(bool, model.lrn), "local response normalization in the stem (BN-Inception)"),
      number("model.width", ACCESS(double, model.width), 1e-3, 16, "channel multiplier (BN-Inception)"),
      boolean("model.small_input", ACCESS(bool, model.small_input), "stem for 28-64 px inputs"),
      boolean("model.channels_last", ACCESS(bool, model.channels_last),
              "channels-last (NHWC) memory layout for conv models (faster with oneDNN and cuDNN)"),
      boolean("model.separable_stem", ACCESS(bool, model.separable_stem),
              "BN-Inception: depthwise-separable 7x7 stem (the paper's)"),
      boolean("model.zero_init_residual", ACCESS(bool, model.zero_init_residual),
              "ResNet: zero-init the last BN scale of each block"),
      choice<Init>("model.init", ACCESS(Init, model.init), {{"kaiming", Init::kKaiming}, {"xavier", Init::kXavier}},
                   "weight initialization"),
      number("model.bn_eps", ACCESS(double, model.bn_eps), 1e-12, 1, "BN epsilon"),
      number("model.bn_momentum", ACCESS(double, model.bn_momentum), 0, 1,
             "BN running-statistics momentum (0 = cumulative average)"),
      integer<int>("model.bn_group_size", ACCESS(int, model.bn_group_size), 0, 1 << 20,
                   "ranks per SyncBatchNorm group (0 = all)"),
      integer<int64_t>("model.mlp_layers", ACCESS(int64_t, model.mlp_layers), 1, 64, "MLP hidden layers"),
      integer<int64_t>("model.mlp_hidden", ACCESS(int64_t, model.mlp_hidden), 1, 1 << 16, "MLP hidden units"),
      number("model.mlp_init_std", ACCESS(double, model.mlp_init_std), 0, 10, "MLP Gaussian init std"),

      choice<data::DatasetKind>("data.kind", ACCESS(data::DatasetKind, data.kind),
                                {{"idx", data::DatasetKind::kIdx},
                                 {"image_folder", data::DatasetKind::kImageFolder},
                                 {"synthetic", data::DatasetKind::kSynthetic}},
                                "data set format"),
      text("data.root", ACCESS(std::string, data.root), "data set folder"),
      text("data.val_labels", ACCESS(std::string, data.val_labels), "image_folder: labels file of a flat val/"),
      integer<int64_t>("data.synthetic_size", ACCESS(int64_t, data.synthetic_size), 1, INT64_MAX,
                       "synthetic: training examples"),
      integer<int64_t>("data.synthetic_classes", ACCESS(int64_t, data.synthetic_classes), 1, 1 << 20,
                       "synthetic: classes"),
      integer<int64_t>("data.synthetic_image_size", ACCESS(int64_t, data.synthetic_image_size), 1, 8192,
                       "synthetic: image side"),
      integer<int64_t>("data.synthetic_channels", ACCESS(int64_t, data.synthetic_channels), 1, 3,
                       "synthetic: channels (1 or 3)"),
      integer<int64_t>("data.crop_size", ACCESS(int64_t, transform.crop_size), 1, 8192, "input side length"),
      integer<int64_t>("data.resize", ACCESS(int64_t, transform.resize), 1, 8192,
                       "eval: short side resized to this before the center crop"),
      boolean("data.random_resized_crop", ACCESS(bool, transform.random_resized_crop),
              "train: Inception-style random resized crop (else pad and random crop)"),
      number("data.min_area", ACCESS(double, transform.min_area), 1e-4, 1, "random resized crop: smallest area fraction"),
      integer<int64_t>("data.pad", ACCESS(int64_t, transform.pad), 0, 1024, "pad-and-crop: padding"),
      boolean("data.flip", ACCESS(bool, transform.flip), "train: random horizontal flip"),
      boolean("data.photometric", ACCESS(bool, transform.photometric),
              "train: brightness/contrast/saturation/lighting distortion"),
      numbers("data.mean", ACCESS(std::vector<double>, transform.mean), "per-channel mean of [0,1] pixels"),
      numbers("data.std", ACCESS(std::vector<double>, transform.std), "per-channel std of [0,1] pixels"),
      boolean("data.reduced_decode", ACCESS(bool, transform.reduced_decode), "decode JPEGs at 1/2, 1/4, 1/8 size when possible"),
      integer<int>("data.threads", ACCESS(int, loader.threads), 1, 256, "loader threads per rank"),
      integer<int>("data.prefetch", ACCESS(int, loader.prefetch), 1, 1024, "ready batches kept ahead"),
      number("data.max_failure_fraction", ACCESS(double, loader.max_failure_fraction), 0, 1,
             "fraction of undecodable images that stops training"),

      required(integer<int64_t>("train.batch_size", ACCESS(int64_t, train.batch_size), 1, INT64_MAX,
                                "global mini-batch over all ranks")),
      integer<int64_t>("train.steps", ACCESS(int64_t, train.steps), 0, INT64_MAX, "training steps (or train.epochs)"),
      number("train.epochs", ACCESS(double, train.epochs), 0, inf, "training epochs (or train.steps)"),
      integer<uint64_t>("train.seed", ACCESS(uint64_t, train.seed), 0, INT64_MAX, "seed of init, shuffling, augmentation"),
      number("train.label_smoothing", ACCESS(double, train.label_smoothing), 0, 0.999, "cross-entropy label smoothing"),
      boolean("train.shuffle", ACCESS(bool, train.shuffle), "new permutation every epoch"),
      integer<int>("train.threads", ACCESS(int, train.threads), 0, 1024, "intra-op threads per rank (0 = cores / local ranks)"),
      choice<DeviceKind>("train.device", ACCESS(DeviceKind, train.device),
                         device_names(),
                         "compute device: cuda = GPU local_rank % count; auto = cuda when available"),
      choice<Precision>("train.precision", ACCESS(Precision, train.precision),
                        precision_names(),
                        "activations under autocast (float32 weights); fp16 adds dynamic loss scaling"),

      choice<OptimizerKind>("optim.name", ACCESS(OptimizerKind, optim.kind),
                            {{"sgd", OptimizerKind::kSgd}, {"rmsprop", OptimizerKind::kRmsprop}}, "optimizer"),
      number("optim.lr", ACCESS(double, optim.lr), 0, inf, "base learning rate"),
      number("optim.momentum", ACCESS(double, optim.momentum), 0, 0.9999, "momentum"),
      boolean("optim.nesterov", ACCESS(bool, optim.nesterov), "Nesterov momentum (SGD)"),
      number("optim.weight_decay", ACCESS(double, optim.weight_decay), 0, 1, "L2 weight decay"),
      boolean("optim.no_decay_bn_bias", ACCESS(bool, optim.no_decay_bn_bias), "exempt BN parameters and biases from decay"),
      number("optim.rmsprop_alpha", ACCESS(double, optim.rmsprop_alpha), 0, 1, "RMSProp decay"),
      number("optim.rmsprop_eps", ACCESS(double, optim.rmsprop_eps), 1e-12, 10, "RMSProp epsilon"),

      choice<ScheduleKind>("schedule.kind", ACCESS(ScheduleKind, schedule.kind),
                           {{"constant", ScheduleKind::kConstant},
                            {"step", ScheduleKind::kStep},
                            {"exponential", ScheduleKind::kExponential},
                            {"cosine", ScheduleKind::kCosine}},
                           "learning-rate schedule"),
      number("schedule.warmup_epochs", ACCESS(double, schedule.warmup_epochs), 0, inf, "linear warm-up length"),
      number("schedule.decay_rate", ACCESS(double, schedule.decay_rate), 0, 1, "exponential: factor per decay period"),
      number("schedule.decay_epochs", ACCESS(double, schedule.decay_epochs), 1e-6, inf, "exponential: period in epochs"),
      boolean("schedule.staircase", ACCESS(bool, schedule.staircase), "exponential: decay in steps, not continuously"),
      numbers("schedule.milestones", ACCESS(std::vector<double>, schedule.milestones), "step: epochs where lr *= gamma"),
      number("schedule.gamma", ACCESS(double, schedule.gamma), 0, 1, "step: factor at each milestone"),
      number("schedule.final_lr", ACCESS(double, schedule.final_lr), 0, inf, "cosine: final learning rate"),
      boolean("schedule.scale_with_batch", ACCESS(bool, schedule.scale_with_batch), "lr *= global batch / 256"),

      integer<int64_t>("eval.every_steps", ACCESS(int64_t, eval.schedule.every_steps), 0, INT64_MAX,
                       "evaluate every N steps (0 = at the end only); the first interval when geometric"),
      integer<int64_t>("eval.per_doubling", ACCESS(int64_t, eval.schedule.per_doubling), 0, 1 << 20,
                       "geometric schedule: evaluations per doubling of the step count (0 = fixed interval)"),
      integer<int64_t>("eval.max_every_steps", ACCESS(int64_t, eval.schedule.max_every_steps), 0, INT64_MAX,
                       "geometric schedule: largest interval (0 = no cap)"),
      boolean("eval.stop_at_plateau", ACCESS(bool, eval.stop_at_plateau),
              "end the run when no new best in the last third and the mean gain over it is < eval.plateau_gain"),
      number("eval.plateau_gain", ACCESS(double, eval.plateau.min_gain), 0, 1,
             "plateau rule: smallest mean top-1 gain (fraction) of the last third over the one before"),
      integer<int64_t>("eval.plateau_min_steps", ACCESS(int64_t, eval.plateau.min_steps), 0, INT64_MAX,
                       "plateau rule: never stop before this step"),
      number("eval.stop_at_top1", ACCESS(double, eval.stop_at_top1), 0, 1,
             "end the run at the first evaluation with at least this top-1 accuracy (0 = off)"),
      integer<int64_t>("eval.batch_size", ACCESS(int64_t, eval.batch_size), 1, INT64_MAX, "evaluation batch per rank"),
      integer<int64_t>("log.every_steps", ACCESS(int64_t, log.every_steps), 1, INT64_MAX, "train metrics every N steps"),
      integer<int64_t>("checkpoint.every_steps", ACCESS(int64_t, checkpoint.every_steps), 0, INT64_MAX,
                       "checkpoint every N steps (0 = at the end only)"),
      integer<int64_t>("checkpoint.keep", ACCESS(int64_t, checkpoint.keep), 1, 1 << 20, "checkpoints kept"),
      number("dist.bucket_mb", ACCESS(double, dist.bucket_mb), 0.001, 1 << 14, "gradient bucket size in MB"),
      boolean("dist.overlap", ACCESS(bool, dist.overlap), "start gradient allreduces during backward"),
      number("dist.nccl_timeout_s", ACCESS(double, dist.nccl_timeout_s), 1, 1e6,
             "NCCL watchdog: abort the job when a collective takes longer"),
  };
  return table;
}

#undef ACCESS

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t next = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

const Field* find_field(const std::string& key) {
  for (const auto& f : fields()) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::string nearest_key(const std::string& key) {
  const Field* best = nullptr;
  size_t best_distance = SIZE_MAX;
  for (const auto& f : fields()) {
    size_t d = edit_distance(key, f.key);
    if (d < best_distance) best_distance = d, best = &f;
  }
  return best->key;
}

void flatten(const YAML::Node& node, const std::string& prefix, const std::string& source,
             std::map<std::string, Item>& out) {
  for (const auto& entry : node) {
    const std::string key = prefix + entry.first.as<std::string>();
    const std::string where = source + ":" + std::to_string(entry.first.Mark().line + 1);
    if (entry.second.IsMap() && !find_field(key)) {
      flatten(entry.second, key + ".", source, out);
    } else {
      if (out.count(key)) throw ConfigError(where + ": duplicate key '" + key + "'");
      out[key] = {entry.second, where};
    }
  }
}

void validate(const Config& c, const std::set<std::string>& present, const std::string& source) {
  for (const auto& f : fields()) {
    if (f.required && !present.count(f.key)) throw ConfigError(source + ": missing required key '" + f.key + "'");
  }
  if ((c.train.steps > 0) == (c.train.epochs > 0)) {
    throw ConfigError(source + ": set exactly one of train.steps and train.epochs (got steps " +
                      std::to_string(c.train.steps) + ", epochs " + number_text(c.train.epochs) + ")");
  }
  if (c.transform.mean.size() != c.transform.std.size() || c.transform.mean.empty()) {
    throw ConfigError(source + ": data.mean and data.std need the same number of values (one per channel)");
  }
  for (double s : c.transform.std) {
    if (s <= 0) throw ConfigError(source + ": data.std: values must be positive");
  }
  if ((c.eval.stop_at_plateau || c.eval.stop_at_top1 > 0) && c.eval.schedule.every_steps == 0) {
    throw ConfigError(source + ": eval.stop_at_plateau and eval.stop_at_top1 need eval.every_steps > 0");
  }
  if (c.optim.nesterov && c.optim.momentum == 0) throw ConfigError(source + ": optim.nesterov needs optim.momentum > 0");
  if (!std::is_sorted(c.schedule.milestones.begin(), c.schedule.milestones.end())) {
    throw ConfigError(source + ": schedule.milestones must be increasing");
  }
}

}  // namespace

const std::vector<std::pair<std::string, models::Norm>>& norm_names() {
  static const std::vector<std::pair<std::string, models::Norm>> names = {
      {"none", models::Norm::kNone}, {"batch", models::Norm::kBatch}, {"sync", models::Norm::kSync}};
  return names;
}

const std::vector<std::pair<std::string, DeviceKind>>& device_names() {
  static const std::vector<std::pair<std::string, DeviceKind>> names = {
      {"auto", DeviceKind::kAuto}, {"cpu", DeviceKind::kCpu}, {"cuda", DeviceKind::kCuda}};
  return names;
}

const std::vector<std::pair<std::string, Precision>>& precision_names() {
  static const std::vector<std::pair<std::string, Precision>> names = {
      {"fp32", Precision::kFloat32}, {"bf16", Precision::kBFloat16}, {"fp16", Precision::kFloat16}};
  return names;
}

Config parse_config(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsNull() && !root.IsMap()) throw ConfigError(source + ": expected a mapping of sections at the top level");
  std::map<std::string, Item> items;
  if (root.IsMap()) flatten(root, "", source, items);
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError("--set " + o + ": expected section.key=value");
    YAML::Node value;
    try {
      value = YAML::Load(o.substr(eq + 1));
    } catch (const YAML::Exception& e) {
      throw ConfigError("--set " + o + ": invalid value: " + e.msg);
    }
    if (value.IsNull()) value = YAML::Node(std::string());
    items[o.substr(0, eq)] = {value, "--set " + o.substr(0, eq)};
  }
  Config config;
  std::set<std::string> present;
  for (const auto& [key, item] : items) {
    const Field* f = find_field(key);
    if (!f) throw ConfigError(item.where + ": unknown key '" + key + "' (did you mean '" + nearest_key(key) + "'?)");
    f->set(config, item.node, item.where);
    present.insert(key);
  }
  validate(config, present, source);
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the config file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_config(buffer.str(), path, overrides);
}

std::string to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  std::string section;
  for (const auto& f : fields()) {
    auto dot = f.key.find('.');
    std::string s = dot == std::string::npos ? "" : f.key.substr(0, dot);
    if (s != section) {
      if (!section.empty()) out << YAML::EndMap;
      if (!s.empty()) out << YAML::Key << s << YAML::Value << YAML::BeginMap;
      section = s;
    }
    out << YAML::Key << (dot == std::string::npos ? f.key : f.key.substr(dot + 1)) << YAML::Value << f.get(config);
  }
  if (!section.empty()) out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string describe_keys() {
  std::string text;
  for (const auto& f : fields()) text += "  " + f.key + (f.required ? " (required)" : "") + ": " + f.help + "\n";
  return text;
}

}  // namespace bnx::cli
