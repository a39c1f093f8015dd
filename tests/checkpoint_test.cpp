// Checkpoints: round trip of parameters, BN buffers, optimizer momentum and RNG state; detection of
// truncated and bit-flipped files by name; newest-valid selection; pruning; shape and missing-BN
// errors.
#include "train/checkpoint.h"

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "models/registry.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace bnx::train {
namespace {

std::shared_ptr<models::Model> small_model(models::Norm norm = models::Norm::kBatch) {
  models::ModelOptions o;
  o.name = "resnet18";
  o.small_input = true;
  o.num_classes = 10;
  o.in_channels = 1;
  o.norm = norm;
  return models::make_model(o, 28);
}

TEST(Checkpoint, RoundTripsStateOptimizerAndRng) {
  auto dir = test::scratch_dir("ckpt_roundtrip");
  torch::manual_seed(3);
  auto model = small_model();
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  model->forward(torch::randn({4, 1, 28, 28})).sum().backward();
  opt.step();  // momentum buffers and BN statistics are now non-trivial
  CheckpointMeta meta;
  meta.step = 17;
  meta.examples = 17 * 4;
  meta.model_name = "resnet18";
  meta.config_yaml = "model:\n  name: resnet18\n";
  const auto path = (dir / checkpoint_name(17)).string();
  torch::Tensor rng_before = cpu_rng_state();
  write_checkpoint(path, models::state_dict(*model), &opt, meta);

  auto copy = small_model();
  torch::optim::SGD opt2(copy->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  Checkpoint ck = read_checkpoint(path);
  EXPECT_EQ(ck.meta.step, 17);
  EXPECT_EQ(ck.meta.examples, 68);
  EXPECT_EQ(ck.meta.config_yaml, meta.config_yaml);
  load_state(ck, models::state_dict(*copy));
  opt2.load(*ck.optimizer);
  auto a = models::state_dict(*model), b = models::state_dict(*copy);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  EXPECT_GT(std::count_if(a.begin(), a.end(), [](auto& e) { return e.first.find("running_var") != std::string::npos; }), 0);
  EXPECT_TRUE(torch::equal(ck.rng_state, rng_before));
  // Identical next step from both.
  torch::Tensor x = torch::randn({4, 1, 28, 28});
  opt.zero_grad();
  opt2.zero_grad();
  model->forward(x).sum().backward();
  copy->forward(x).sum().backward();
  opt.step();
  opt2.step();
  a = models::state_dict(*model);
  b = models::state_dict(*copy);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

TEST(Checkpoint, DamagedFilesAreDetectedAndSkipped) {
  auto dir = test::scratch_dir("ckpt_damaged");
  auto model = small_model();
  CheckpointMeta meta;
  meta.model_name = "resnet18";
  for (int64_t step : {10, 20, 30}) {
    meta.step = step;
    write_checkpoint((dir / checkpoint_name(step)).string(), models::state_dict(*model), nullptr, meta);
  }
  // 30: truncated; 20: one bit flipped in the middle.
  const auto p30 = (dir / checkpoint_name(30)).string(), p20 = (dir / checkpoint_name(20)).string();
  fs::resize_file(p30, fs::file_size(p30) / 2);
  {
    std::fstream f(p20, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(p20) / 2));
    char c;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(p20) / 2));
    f.put(static_cast<char>(c ^ 0x10));
  }
  try {
    read_checkpoint(p30);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(checkpoint_name(30) + ": truncated"), std::string::npos) << e.what();
  }
  try {
    read_checkpoint(p20);
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(checkpoint_name(20) + ": checksum mismatch"), std::string::npos) << e.what();
  }
  std::ostringstream log;
  auto latest = latest_checkpoint(dir.string(), log);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->meta.step, 10);
  EXPECT_NE(log.str().find(checkpoint_name(30)), std::string::npos);
  EXPECT_NE(log.str().find(checkpoint_name(20)), std::string::npos);
  prune_checkpoints(dir.string(), 1);
  EXPECT_EQ(list_checkpoints(dir.string()), std::vector<std::string>{p30});
}

TEST(Checkpoint, ConflictsNameTheDifference) {
  auto dir = test::scratch_dir("ckpt_conflict");
  CheckpointMeta meta;
  meta.model_name = "resnet18";
  const auto path = (dir / "c.bnx").string();
  write_checkpoint(path, models::state_dict(*small_model(models::Norm::kNone)), nullptr, meta);
  // A BN model cannot load a checkpoint without BN statistics.
  try {
    load_state(read_checkpoint(path), models::state_dict(*small_model()));
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("lacks BN running statistics"), std::string::npos) << e.what();
  }
  // Different shapes.
  models::ModelOptions o;
  o.name = "resnet18";
  o.small_input = true;
  o.num_classes = 7;
  o.in_channels = 1;
  o.norm = models::Norm::kNone;
  try {
    load_state(read_checkpoint(path), models::state_dict(*models::make_model(o, 28)));
    FAIL();
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("'fc.weight' has shape [10, 512] in the checkpoint but [7, 512] in the model"),
              std::string::npos)
        << e.what();
  }
}

// A checkpoint write that fails part way (a full disk, simulated by a file-size limit) removes its
// temporary file, keeps the previous checkpoint intact, and names the file and the system's reason.
TEST(Checkpoint, FailedWriteKeepsThePreviousCheckpoint) {
  const fs::path dir = test::scratch_dir("ckpt_full");
  torch::manual_seed(0);
  auto small = torch::nn::Linear(4, 2);
  NamedTensors state = {{"w", small->weight}, {"b", small->bias}};
  CheckpointMeta meta;
  meta.model_name = "tiny";
  write_checkpoint((dir / checkpoint_name(1)).string(), state, nullptr, meta);
  const auto good_size = fs::file_size(dir / checkpoint_name(1));
  NamedTensors big = {{"w", torch::randn({1 << 20})}};  // 4 MB
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit limited = old;
  limited.rlim_cur = 1 << 20;  // 1 MB per file
  ::setrlimit(RLIMIT_FSIZE, &limited);
  std::string what;
  try {
    write_checkpoint((dir / checkpoint_name(2)).string(), big, nullptr, meta);
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  EXPECT_NE(what.find(checkpoint_name(2) + ".tmp: cannot write checkpoint: File too large"), std::string::npos) << what;
  EXPECT_FALSE(fs::exists(dir / (checkpoint_name(2) + ".tmp")));
  EXPECT_FALSE(fs::exists(dir / checkpoint_name(2)));
  EXPECT_EQ(fs::file_size(dir / checkpoint_name(1)), good_size);
  EXPECT_EQ(read_checkpoint((dir / checkpoint_name(1)).string()).state.size(), 2u);
}

}  // namespace
}  // namespace bnx::train
