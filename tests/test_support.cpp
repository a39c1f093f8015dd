// Shared test helpers (see test_support.h).
#include "tests/test_support.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace bnx::test {
namespace {
std::shared_ptr<dist::Communicator>& world_slot() {
  static std::shared_ptr<dist::Communicator> comm;
  return comm;
}

// The scratch folders this process made: removed at exit when every test passed, kept for a look
// when one failed.
struct ScratchFolders {
  ScratchFolders() { ::testing::UnitTest::GetInstance(); }  // gtest's instance first: destroyed after this
  ~ScratchFolders() {
    if (::testing::UnitTest::GetInstance()->Failed()) return;
    std::error_code ignored;
    for (const auto& dir : dirs) std::filesystem::remove_all(dir, ignored);
  }
  std::vector<std::filesystem::path> dirs;
};
}  // namespace

std::shared_ptr<dist::Communicator> world() {
  if (!world_slot()) world_slot() = dist::make_local_communicator();
  return world_slot();
}
void set_world(std::shared_ptr<dist::Communicator> comm) { world_slot() = std::move(comm); }

::testing::AssertionResult all_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs " << b.sizes();
  }
  if (a.numel() == 0) return ::testing::AssertionSuccess();
  auto x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  auto ratio = (x - y).abs() / (atol + rtol * y.abs());
  auto worst = ratio.flatten().argmax().item<int64_t>();
  double r = ratio.flatten()[worst].item<double>();
  if (r <= 1.0 && !std::isnan(r)) return ::testing::AssertionSuccess();
  std::ostringstream out;
  out.precision(17);
  out << "element " << worst << ": " << x.flatten()[worst].item<double>() << " vs "
      << y.flatten()[worst].item<double>() << " (|diff| / (atol + rtol|b|) = " << r << ")";
  return ::testing::AssertionFailure() << out.str();
}

torch::Tensor channel_slice(const torch::Tensor& values, int64_t before, int64_t after) {
  auto sizes = values.sizes().vec();
  sizes[1] += before + after;
  torch::Tensor wide = torch::zeros(sizes).contiguous(torch::MemoryFormat::ChannelsLast);  // float32
  wide.narrow(1, before, values.size(1)).copy_(values);
  return wide.narrow(1, before, values.size(1));
}

std::filesystem::path scratch_dir(const std::string& name) {
  auto comm = world();
  auto pid = torch::tensor({static_cast<int64_t>(::getpid())});  // (1,)
  comm->broadcast(pid, 0);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("bnx_test_" + name + "_" + std::to_string(pid.item<int64_t>()));
  if (comm->rank() == 0) {
    static ScratchFolders made;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    made.dirs.push_back(dir);
  }
  comm->barrier();
  return dir;
}

std::vector<nlohmann::json> metrics_rows(const std::filesystem::path& run_dir) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::vector<double> train_losses(const std::filesystem::path& run_dir) {
  std::vector<double> losses;
  for (const auto& row : metrics_rows(run_dir)) {
    if (row["kind"] == "train") losses.push_back(row["loss"].get<double>());
  }
  return losses;
}

std::string test_data(const std::string& name) { return std::string(BNX_TEST_DATA) + "/" + name; }

}  // namespace bnx::test
