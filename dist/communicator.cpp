// Backend-independent parts of dist::Communicator: coalescing, scalar helpers, a one-rank world.
#include "dist/communicator.h"

#include <map>

namespace bnx::dist {

namespace {

// Runs `collective` on one flat buffer per dtype (in first-seen order, so every rank issues the
// same collectives) and copies the results back into `tensors`.
template <class Collective>
void coalesced(std::vector<torch::Tensor>& tensors, Collective collective) {
  std::vector<torch::ScalarType> order;
  std::map<torch::ScalarType, std::vector<size_t>> by_type;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto type = tensors[i].scalar_type();
    if (by_type.find(type) == by_type.end()) order.push_back(type);
    by_type[type].push_back(i);
  }
  torch::NoGradGuard no_grad;
  for (auto type : order) {
    std::vector<torch::Tensor> flat;
    for (size_t i : by_type[type]) flat.push_back(tensors[i].reshape({-1}));
    torch::Tensor buffer = torch::cat(flat);  // (sum of numels,)
    collective(buffer);
    int64_t offset = 0;
    for (size_t i : by_type[type]) {
      int64_t n = tensors[i].numel();
      tensors[i].copy_(buffer.narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
}

}  // namespace

void Communicator::allreduce_coalesced(std::vector<torch::Tensor>& tensors, ReduceOp op) {
  coalesced(tensors, [&](torch::Tensor& buffer) { allreduce(buffer, op); });
}

void Communicator::broadcast_coalesced(std::vector<torch::Tensor>& tensors, int root) {
  if (size() == 1) return;
  coalesced(tensors, [&](torch::Tensor& buffer) { broadcast(buffer, root); });
}

double Communicator::allreduce_scalar(double value, ReduceOp op) {
  torch::Tensor t = torch::full({1}, value, torch::kFloat64);
  allreduce(t, op);
  return t.item<double>();
}

int64_t Communicator::allreduce_scalar(int64_t value, ReduceOp op) {
  torch::Tensor t = torch::full({1}, value, torch::kInt64);
  allreduce(t, op);
  return t.item<int64_t>();
}

std::string Communicator::where() const { return "rank " + std::to_string(world_rank()) + ": "; }

void fail(const Communicator& comm, const std::string& message) {
  throw DistError(comm.where() + message);
}

int resolve_group_size(const Communicator& world, int group_size) {
  if (group_size < 0) fail(world, "group size must be >= 0 (0 = all ranks), got " + std::to_string(group_size));
  if (group_size == 0) return world.size();
  if (world.size() % group_size != 0) {
    fail(world, "group size " + std::to_string(group_size) + " does not divide the world size " +
                    std::to_string(world.size()));
  }
  return group_size;
}

std::shared_ptr<Communicator> statistics_group(std::shared_ptr<Communicator> world, int group_size) {
  const int k = resolve_group_size(*world, group_size);
  return k == world->size() ? world : world->split(k);
}

namespace {
std::function<bool(const std::exception&)>& input_error_classifier() {
  static std::function<bool(const std::exception&)> classify = [](const std::exception&) { return false; };
  return classify;
}
}  // namespace

void set_input_error_classifier(std::function<bool(const std::exception&)> is_input_error) {
  input_error_classifier() = std::move(is_input_error);
}

void agree_on_failure(Communicator& world, const std::function<void()>& setup) {
  if (world.size() == 1) return setup();  // nobody to tell: the exception as it is
  std::string message;
  double code = 0;  // 0 ok, 1 runtime failure, 2 input error
  try {
    setup();
  } catch (const c10::Error& e) {
    message = e.what_without_backtrace();
    code = input_error_classifier()(e) ? 2 : 1;
  } catch (const std::exception& e) {
    message = e.what();
    code = input_error_classifier()(e) ? 2 : 1;
  }
  // The lowest failing rank and its code, in one allreduce: max of (-rank, code) among failures.
  torch::Tensor flags = torch::tensor({code > 0 ? -double(world.rank()) : -1e9, code}, torch::kFloat64);
  world.allreduce(flags, ReduceOp::kMax);
  if (flags[1].item<double>() == 0) return;
  const int failed = static_cast<int>(-flags[0].item<double>());
  const bool report = failed == world.rank();
  // The failing rank's own code decides the kind (the max code may come from another rank).
  const double failed_code = world.allreduce_scalar(report ? code : 0.0, ReduceOp::kMax);
  throw AgreedFailure(report ? message : "rank " + std::to_string(failed) + " failed during setup", failed,
                      failed_code == 2, report);
}

namespace {

class DoneWork : public Work {
 public:
  void wait() override {}
  bool test() override { return true; }
};

// World of one: every collective is the identity (avg and max of one value are the value).
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  int world_rank() const override { return 0; }
  void allreduce(torch::Tensor&, ReduceOp) override {}
  std::unique_ptr<Work> allreduce_async(torch::Tensor&, ReduceOp) override {
    return std::make_unique<DoneWork>();
  }
  void broadcast(torch::Tensor&, int) override {}
  torch::Tensor allgather(const torch::Tensor& tensor) override { return tensor.unsqueeze(0).clone(); }
  void barrier() override {}
  std::shared_ptr<Communicator> split(int group_size) override {
    resolve_group_size(*this, group_size);
    return std::make_shared<LocalCommunicator>();
  }
  [[noreturn]] void abort(const std::string& message) override {
    throw DistError(where() + message);
  }
};

}  // namespace

std::shared_ptr<Communicator> make_local_communicator() { return std::make_shared<LocalCommunicator>(); }

}  // namespace bnx::dist
