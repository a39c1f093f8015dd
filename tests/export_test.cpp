// Export: safetensors round trip (format details checked byte by byte), BN folding leaves outputs
// unchanged, and the fixture for the torchvision interop test (a ResNet-50 checkpoint plus its
// input and bnx's logits).
#include "train/offline/export.h"

#include <filesystem>
#include <fstream>

#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/cli/config.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

TEST(Safetensors, RoundTripAndLayout) {
  const fs::path dir = test::scratch_dir("safetensors");
  const auto path = (dir / "tensors.safetensors").string();
  NamedTensors tensors = {{"a.weight", torch::randn({2, 3})},
                             {"a.num_batches_tracked", torch::tensor(int64_t{7})},
                             {"b", torch::arange(5, torch::kFloat64)}};
  write_safetensors(path, tensors, {{"model", "x"}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= uint64_t(uint8_t(bytes[b])) << (8 * b);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_NE(header.find("\"__metadata__\":{\"model\":\"x\"}"), std::string::npos) << header;
  EXPECT_NE(header.find("\"a.num_batches_tracked\":{\"data_offsets\":[24,32],\"dtype\":\"I64\",\"shape\":[]}"),
            std::string::npos)
      << header;
  EXPECT_EQ(bytes.size(), 8 + n + 24 + 8 + 40);
  std::map<std::string, std::string> meta;
  auto back = read_safetensors(path, &meta);
  ASSERT_EQ(back.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back[i].first, tensors[i].first);
    EXPECT_TRUE(torch::equal(back[i].second, tensors[i].second));
  }
  EXPECT_EQ(meta["model"], "x");
}

// BN folded into the convolutions: a norm-none model loaded with the folded weights gives the
// BN model's eval-mode logits.
TEST(FoldBatchNorm, OutputsUnchanged) {
  for (const std::string name : {"resnet18", "bn_inception", "mlp"}) {
    models::ModelOptions o;
    o.name = name;
    o.small_input = true;
    o.in_channels = 1;
    o.num_classes = 10;
    o.width = 0.25;
    torch::manual_seed(0);
    auto bn_model = models::make_model(o, 28);
    for (int i = 0; i < 3; ++i) bn_model->forward(torch::randn({8, 1, 28, 28}) * 2 + 0.5);  // move running stats
    bn_model->eval();
    o.norm = models::Norm::kNone;
    auto plain = models::make_model(o, 28);
    auto folded = fold_batch_norm(models::state_dict(*bn_model), 1e-5);
    Checkpoint ck;
    ck.path = "folded";
    ck.state = folded;
    load_state(ck, models::state_dict(*plain));
    plain->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor x = torch::randn({4, 1, 28, 28});
    EXPECT_ALL_CLOSE(plain->forward(x), bn_model->forward(x), 1e-4, 1e-4) << name;
  }
}

// Writes tests/interop inputs: a ResNet-50 checkpoint with trained BN statistics, and the input
// and bnx's eval-mode logits. torchvision_interop.py checks them against torchvision.
TEST(Interop, WriteResNet50Fixture) {
  const fs::path dir = BNX_TEST_OUT;
  fs::create_directories(dir);
  Config config = cli::parse_config("model:\n  name: resnet50\ntrain:\n  batch_size: 2\n  steps: 1\n", "fixture");
  config.model.num_classes = 1000;
  torch::manual_seed(0);
  auto model = models::make_model(config.model, 224);
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 2; ++i) model->forward(torch::randn({2, 3, 64, 64}) + 0.3);  // BN statistics move
  }
  model->eval();
  torch::Tensor x = torch::randn({2, 3, 64, 64});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    logits = model->forward(x);
  }
  CheckpointMeta meta;
  meta.step = 2;
  meta.model_name = "resnet50";
  meta.in_channels = 3;
  meta.num_classes = 1000;
  meta.config_yaml = cli::to_yaml(config);
  write_checkpoint((dir / "resnet50.bnx").string(), models::state_dict(*model), nullptr, meta);
  write_safetensors((dir / "resnet50_io.safetensors").string(), {{"input", x}, {"logits", logits}}, {});
  SUCCEED();
}

}  // namespace
}  // namespace bnx::train
