// Models: torchvision parameter counts and ResNet-50 state_dict keys, BN-Inception's Figure 5
// depths and parameter count, output shapes, norm/activation options, forward + backward, and
// channels-last layout against NCHW.
#include <fstream>
#include <map>

#include "models/batch_norm_cpu.h"
#include "models/bn_inception.h"
#include "models/local_response_norm.h"
#include "models/registry.h"
#include "models/sync_batch_norm.h"
#include "tests/test_support.h"

namespace bnx::models {
namespace {

ModelOptions options_for(const std::string& name) {
  ModelOptions o;
  o.name = name;
  return o;
}

// A small NCHW network for 10 classes (the layout tests switch channels_last on).
ModelOptions small_options(const std::string& name) {
  ModelOptions o = options_for(name);
  o.small_input = true;
  o.num_classes = 10;
  o.width = 0.25;
  o.channels_last = false;
  return o;
}

TEST(Models, ResNetParameterCountsEqualTorchvision) {
  const std::vector<std::pair<std::string, int64_t>> expected = {{"resnet18", 11689512},
                                                                 {"resnet34", 21797672},
                                                                 {"resnet50", 25557032},
                                                                 {"resnet101", 44549160},
                                                                 {"resnet152", 60192808}};
  for (const auto& [name, count] : expected) {
    EXPECT_EQ(parameter_count(*make_model(options_for(name), 224)), count) << name;
  }
}

TEST(Models, ResNet50StateDictKeysEqualTorchvision) {
  std::ifstream in(test::test_data("resnet50_state_dict_keys.txt"));
  ASSERT_TRUE(in.good());
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) expected.push_back(line);
  ASSERT_EQ(expected.size(), 320u);
  std::vector<std::string> keys;
  for (const auto& entry : state_dict(*make_model(options_for("resnet50"), 224))) keys.push_back(entry.first);
  EXPECT_EQ(keys, expected);
}

TEST(Models, BNInceptionFollowsFigure5FilterCounts) {
  // Output depths of 3a..5b from the table's filter counts (4c/4d/4e differ from the printed 576/1024).
  const std::vector<int64_t> depths = {256, 320, 576, 576, 576, 608, 608, 1056, 1024, 1024};
  ModelOptions o = options_for("bn_inception");
  int64_t in = 192;
  for (size_t i = 0; i < detail::inception_table().size(); ++i) {
    detail::InceptionModule m(o, in, detail::inception_table()[i]);
    EXPECT_EQ(m->out_channels, depths[i]) << detail::inception_table()[i].name;
    in = m->out_channels;
  }
  // Separable stem: 11,278,528 parameters with 1000 classes (counted by hand from the table:
  // convs without bias + BN gamma/beta + fc). The paper states 13.6M; the table does not explain
  // the difference (see docs/models.md).
  const int64_t separable = 11278528;
  EXPECT_EQ(parameter_count(*make_model(o, 224)), separable);
  o.separable_stem = false;  // a plain 7x7 conv to 64 instead of depthwise (3*8*49) + pointwise (24*64 + BN)
  EXPECT_EQ(parameter_count(*make_model(o, 224)), separable - 3 * 8 * 49 - 24 * 64 + 7 * 7 * 3 * 64);
}

TEST(Models, OutputShapesAt224AndSmallInputs) {
  for (const std::string name : {"bn_inception", "resnet18", "resnet50"}) {
    auto model = make_model(options_for(name), 224);
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward(torch::randn({2, 3, 224, 224})).sizes(), torch::IntArrayRef({2, 1000})) << name;
    ModelOptions small = options_for(name);
    small.small_input = true;
    small.in_channels = 1;
    small.num_classes = 10;
    small.width = 0.25;
    auto m = make_model(small, 28);
    m->eval();
    for (int64_t size : {28, 32, 64}) {
      EXPECT_EQ(m->forward(torch::randn({2, 1, size, size})).sizes(), torch::IntArrayRef({2, 10})) << name;
    }
  }
  ModelOptions mlp = options_for("mlp");
  mlp.in_channels = 1;
  mlp.num_classes = 10;
  EXPECT_EQ(make_model(mlp, 28)->forward(torch::randn({5, 1, 28, 28})).sizes(), torch::IntArrayRef({5, 10}));
  // BN before each sigmoid: linear layers without bias, gamma and beta per unit.
  EXPECT_EQ(parameter_count(*make_model(mlp, 28)), 784 * 100 + 200 + 2 * (100 * 100 + 200) + 100 * 10 + 10);
  mlp.norm = Norm::kNone;
  EXPECT_EQ(parameter_count(*make_model(mlp, 28)), 784 * 100 + 100 + 2 * (100 * 100 + 100) + 100 * 10 + 10);
}

int count_norms(torch::nn::Module& m, bool synchronized) {
  int n = 0;
  for (auto& module : m.modules()) {
    if (auto* bn = module->as<SyncBatchNormImpl>()) n += (bn->group() != nullptr) == synchronized;
    EXPECT_EQ(module->as<torch::nn::BatchNorm2dImpl>(), nullptr);
  }
  return n;
}

TEST(Models, NormOptionSelectsTheBatchNormKind) {
  for (const std::string name : {"bn_inception", "resnet18", "mlp"}) {
    ModelOptions o = options_for(name);
    o.norm = Norm::kNone;
    auto none = make_model(o, 32);
    EXPECT_EQ(count_norms(*none, false) + count_norms(*none, true), 0) << name;
    o.norm = Norm::kSync;
    o.comm = dist::make_local_communicator();
    auto sync = make_model(o, 32);
    EXPECT_GT(count_norms(*sync, true), 0) << name;
    EXPECT_EQ(count_norms(*sync, false), 0) << name;
    o.norm = Norm::kBatch;
    EXPECT_GT(count_norms(*make_model(o, 32), false), 0) << name;
  }
}

TEST(Models, ActivationSwitchAndBackward) {
  for (const std::string name : {"bn_inception", "resnet18", "mlp"}) {
    ModelOptions o = options_for(name);
    o.small_input = true;
    o.in_channels = 1;
    o.num_classes = 10;
    o.width = 0.25;
    torch::manual_seed(0);
    auto relu = make_model(o, 28);
    o.activation = Activation::kSigmoid;
    torch::manual_seed(0);
    auto sigmoid = make_model(o, 28);
    torch::Tensor x = torch::randn({4, 1, 28, 28});
    torch::Tensor a = relu->forward(x), b = sigmoid->forward(x);
    EXPECT_FALSE(torch::allclose(a, b)) << name;  // same weights, different nonlinearity
    b.sum().backward();
    for (auto& p : sigmoid->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << name << " " << p.key();
    }
  }
}

// Channels-last layout changes only memory order: same weights (same seed), same outputs and
// gradients as NCHW (in float64, where the different summation orders of the two layouts leave
// about 1e-12; float32 rounding grows to ~1% through 20 BN layers), 4-D weights channels-last.
TEST(Models, ChannelsLastComputesTheSameAsNchw) {
  for (const std::string name : {"bn_inception", "resnet18"}) {
    ModelOptions o = small_options(name);
    torch::manual_seed(0);
    auto nchw = make_model(o, 32);
    o.channels_last = true;
    torch::manual_seed(0);
    auto nhwc = make_model(o, 32);
    nchw->to(torch::kFloat64);
    nhwc->to(torch::kFloat64);
    torch::Tensor x = torch::randn({4, 3, 16, 16}, torch::kFloat64);
    torch::Tensor a = nchw->forward(x), b = nhwc->forward(x);
    EXPECT_TRUE(torch::allclose(a, b, 1e-9, 1e-10)) << name << " " << (a - b).abs().max().item<double>();
    a.square().sum().backward();
    b.square().sum().backward();
    auto pa = nchw->named_parameters(), pb = nhwc->named_parameters();
    for (const auto& item : pa) {
      const torch::Tensor& w = pb[item.key()];
      if (w.dim() == 4) {
        EXPECT_TRUE(w.is_contiguous(at::MemoryFormat::ChannelsLast)) << name << " " << item.key();
      }
      EXPECT_TRUE(torch::equal(item.value(), w)) << name << " " << item.key();
      EXPECT_TRUE(torch::allclose(item.value().grad(), w.grad(), 1e-8, 1e-10)) << name << " " << item.key();
    }
  }
}

// Fashion-MNIST's 1-channel input: every activation of the channels-last stem is rows of adjacent
// channels (stride 1 along C), which bnx's LRN and batch-norm kernels need (otherwise they fall
// back to ATen). A (O, 1, kH, kW) first-conv weight is "channels-last contiguous" in either
// stride order, and oneDNN keeps the output NCHW unless the weight is restrided.
TEST(Models, ChannelsLastReachesTheFirstLayerOfAOneChannelNet) {
  for (const Norm norm : {Norm::kNone, Norm::kBatch}) {
    ModelOptions o = small_options("bn_inception");
    o.in_channels = 1;
    o.norm = norm;
    o.lrn = norm == Norm::kNone;
    o.channels_last = true;
    auto model = make_model(o, 28);
    for (const auto& item : model->named_parameters()) {
      if (item.value().dim() == 4) {
        EXPECT_EQ(item.value().suggest_memory_format(), torch::MemoryFormat::ChannelsLast)
            << item.key() << " strides " << item.value().strides();
      }
    }
    auto stem = std::dynamic_pointer_cast<torch::nn::SequentialImpl>(model->named_children()["stem"]);
    ASSERT_TRUE(stem);
    torch::Tensor x = torch::randn({4, 1, 28, 28}).contiguous(torch::MemoryFormat::ChannelsLast);
    const auto names = stem->named_children().keys();
    for (size_t i = 0; i < stem->size(); ++i) {
      x = stem->begin()[i].forward(x);
      EXPECT_EQ(x.stride(1), 1) << "norm " << static_cast<int>(norm) << ": " << names[i] << " output " << x.sizes()
                                << " strides " << x.strides();
    }
  }
}

// In float32, channels-last BN-Inception with bnx's CPU batch-norm kernels (BN + ReLU fused) is at
// least as accurate as with ATen's: relative L2 errors of the output and of the input gradient of a
// training-mode batch against the float64 model, next to ATen's in the same layout and in NCHW.
TEST(Models, Float32BatchNormKernelsAreAsAccurateAsAten) {
  ModelOptions o = small_options("bn_inception");
  torch::manual_seed(0);
  auto reference = make_model(o, 28);
  reference->to(torch::kFloat64);
  torch::Tensor x64 = torch::randn({32, 3, 28, 28}, torch::kFloat64).requires_grad_(true);
  torch::Tensor y64 = reference->forward(x64);
  torch::Tensor g64 = torch::autograd::grad({y64.square().sum()}, {x64})[0];
  auto errors = [&](bool channels_last, bool bnx_kernels) {  // (output, input gradient)
    o.channels_last = channels_last;
    auto model = make_model(o, 28);
    {
      torch::NoGradGuard no_grad;
      auto params = reference->named_parameters();
      for (auto& item : model->named_parameters()) item.value().copy_(params[item.key()]);
    }
    cpu_bn::set_enabled(bnx_kernels);
    torch::Tensor x = x64.detach().to(torch::kFloat32).requires_grad_(true);
    torch::Tensor y = model->forward(x);
    torch::Tensor g = torch::autograd::grad({y.square().sum()}, {x})[0];
    cpu_bn::set_enabled(true);
    return std::pair{(y.to(torch::kFloat64) - y64).norm().item<double>() / y64.norm().item<double>(),
                     (g.to(torch::kFloat64) - g64).norm().item<double>() / g64.norm().item<double>()};
  };
  const auto [bnx_y, bnx_g] = errors(true, true);
  const auto [aten_y, aten_g] = errors(true, false);
  const auto [nchw_y, nchw_g] = errors(false, true);  // NCHW inputs take ATen's kernels anyway
  std::printf("float32 relative errors, output / input gradient: channels-last bnx %.2e / %.2e, ATen %.2e / %.2e; "
              "NCHW ATen %.2e / %.2e\n", bnx_y, bnx_g, aten_y, aten_g, nchw_y, nchw_g);
  EXPECT_LE(bnx_y, 2 * aten_y);
  EXPECT_LE(bnx_g, 2 * aten_g);
  EXPECT_LE(bnx_y, 3 * nchw_y);
}

TEST(Models, InceptionBaselineHasBiasLrnDropout) {
  ModelOptions o = options_for("bn_inception");
  o.norm = Norm::kNone;
  o.lrn = true;
  o.dropout = 0.4;
  o.init = Init::kXavier;
  auto model = make_model(o, 224);
  int lrn = 0, dropout = 0;
  for (auto& m : model->modules()) {
    lrn += m->as<LocalResponseNormImpl>() != nullptr;
    dropout += m->as<torch::nn::DropoutImpl>() != nullptr;
    if (auto* conv = m->as<torch::nn::Conv2dImpl>()) {
      if (conv->options.groups() == 1) {
        EXPECT_TRUE(conv->bias.defined());
      }
    }
  }
  EXPECT_EQ(lrn, 2);
  EXPECT_EQ(dropout, 1);
}

TEST(Models, UnknownNameListsValidOnes) {
  try {
    make_model(options_for("resnet99"), 224);
    FAIL();
  } catch (const std::exception& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("unknown model 'resnet99'"), std::string::npos) << what;
    EXPECT_NE(what.find("bn_inception"), std::string::npos) << what;
    EXPECT_NE(what.find("resnet152"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace bnx::models
