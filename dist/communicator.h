// dist::Communicator: the only way bnx code talks to other ranks.
// Implementations: MpiCommunicator (CPU tensors, host values, bootstrap) and NcclCommunicator
// (CUDA tensors on the current stream; built only with CUDA LibTorch). Model and training code
// receive a Communicator; only dist/*.cpp include mpi.h or nccl.h.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bnx {
/// A list of named tensors: parameters, buffers, a state dict, an export (PyTorch's order and names).
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
}  // namespace bnx

namespace bnx::dist {

enum class ReduceOp { kSum, kAvg, kMax };

/// A distributed failure; the message already carries the rank.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Handle of a collective started asynchronously; wait() blocks until it is done.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  /// Lets the backend make progress; returns true once complete.
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Rank and number of ranks on this node (shared-memory domain).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  /// Rank in the world this communicator was split from (for messages).
  virtual int world_rank() const = 0;

  /// In place on a contiguous tensor of float32, float64 or int64.
  virtual void allreduce(torch::Tensor& tensor, ReduceOp op) = 0;
  /// Starts an in-place allreduce; the tensor must stay alive and untouched until wait().
  virtual std::unique_ptr<Work> allreduce_async(torch::Tensor& tensor, ReduceOp op) = 0;
  /// Allreduces every tensor of the list in one collective (one fused buffer per dtype).
  void allreduce_coalesced(std::vector<torch::Tensor>& tensors, ReduceOp op);
  /// Broadcasts every tensor of the list from `root` (one flat buffer per dtype).
  void broadcast_coalesced(std::vector<torch::Tensor>& tensors, int root);
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  /// Gathers equal-shaped tensors: returns (size(), *tensor.shape).
  virtual torch::Tensor allgather(const torch::Tensor& tensor) = 0;
  virtual void barrier() = 0;
  /// Splits into groups of `group_size` consecutive ranks (0 = one group of all ranks).
  virtual std::shared_ptr<Communicator> split(int group_size) = 0;
  /// Ends the whole job with `message` (used when one rank fails). Does not return.
  [[noreturn]] virtual void abort(const std::string& message) = 0;

  // Host-side helpers built on allreduce.
  double allreduce_scalar(double value, ReduceOp op);
  int64_t allreduce_scalar(int64_t value, ReduceOp op);

  /// "rank R: " prefix for error messages.
  std::string where() const;
};

/// Throws DistError with the world rank of `comm` prepended.
[[noreturn]] void fail(const Communicator& comm, const std::string& message);

/// A communicator of one rank that needs no MPI (unit tests, single-process tools).
std::shared_ptr<Communicator> make_local_communicator();

/// Checks that `group_size` divides the world; returns the effective size (0 -> world).
int resolve_group_size(const Communicator& world, int group_size);

/// The group of `group_size` consecutive ranks (0 = all) that this rank belongs to: `world` itself
/// when that is every rank, else a split of it. Collective over `world`; call it once per run and
/// hand the result to every layer that needs it (SyncBatchNorm's statistics group).
std::shared_ptr<Communicator> statistics_group(std::shared_ptr<Communicator> world, int group_size);

/// Runs `setup` on every rank and agrees on its outcome: when it throws on any rank, every rank
/// throws AgreedFailure. Setup errors (a bad data root on one node, an unreadable checkpoint) thus
/// end every rank the same way instead of leaving the healthy ones waiting in the next collective.
/// Collective over `world`. On a world of one rank the exception passes through unchanged.
void agree_on_failure(Communicator& world, const std::function<void()>& setup);

/// What agree_on_failure throws on every rank when a setup failed somewhere.
class AgreedFailure : public std::runtime_error {
 public:
  AgreedFailure(const std::string& message, int failed_rank, bool input_error, bool report)
      : std::runtime_error(message), failed_rank(failed_rank), input_error(input_error), report(report) {}
  int failed_rank;   // the lowest rank that failed
  bool input_error;  // its exception was an input error (see set_input_error_classifier)
  bool report;       // this rank is that rank: it reports the message (its own exception's)
};

/// Classifies exceptions for agree_on_failure (set once by the program; default: none are).
void set_input_error_classifier(std::function<bool(const std::exception&)> is_input_error);

}  // namespace bnx::dist
