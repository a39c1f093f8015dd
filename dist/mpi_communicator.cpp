// MpiCommunicator: dist::Communicator over an MPI communicator; every MPI call is checked and
// reported with the world rank and MPI's own error string.
#include "dist/mpi_communicator.h"

#include <mpi.h>

#include <cstdlib>
#include <iostream>

namespace bnx::dist {
namespace {

int world_rank_or_minus_one() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int rank = -1;
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void check_mpi(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw DistError("rank " + std::to_string(world_rank_or_minus_one()) + ": " + call + " failed at " +
                  file + ":" + std::to_string(line) + ": " + std::string(text, length));
}

#define BNX_MPI_CHECK(call) check_mpi((call), #call, __FILE__, __LINE__)

// Finalizes MPI at exit, after every communicator has been released.
struct MpiLifetime {
  MpiLifetime() {
    int provided = 0;
    BNX_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiLifetime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
};

MPI_Datatype mpi_type(const torch::Tensor& t, int rank) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt64: return MPI_INT64_T;
    default:
      throw DistError("rank " + std::to_string(rank) + ": allreduce supports float32, float64 and int64, got " +
                      std::string(c10::toString(t.scalar_type())));
  }
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM; }

void finish_avg(torch::Tensor& t, ReduceOp op, int size) {
  if (op == ReduceOp::kAvg) t.div_(size);
}

class MpiWork : public Work {
 public:
  MpiWork(MPI_Request request, torch::Tensor tensor, ReduceOp op, int size)
      : request_(request), tensor_(std::move(tensor)), op_(op), size_(size) {}
  ~MpiWork() override {
    if (!done_) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (done_) return;
    BNX_MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE));
    complete();
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    BNX_MPI_CHECK(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE));
    if (flag) complete();
    return done_;
  }

 private:
  void complete() {
    done_ = true;
    finish_avg(tensor_, op_, size_);
  }
  MPI_Request request_;
  torch::Tensor tensor_;
  ReduceOp op_;
  int size_;
  bool done_ = false;
};

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    BNX_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
    BNX_MPI_CHECK(MPI_Comm_size(comm_, &size_));
    BNX_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
    MPI_Comm node;
    BNX_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    BNX_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
    BNX_MPI_CHECK(MPI_Comm_size(node, &local_size_));
    MPI_Comm_free(&node);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  int world_rank() const override { return world_rank_; }

  void allreduce(torch::Tensor& tensor, ReduceOp op) override {
    check_tensor(tensor, "allreduce");
    if (op == ReduceOp::kAvg && !tensor.is_floating_point()) fail(*this, "allreduce avg needs a floating tensor");
    if (tensor.numel() > 0) {
      BNX_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), count(tensor), mpi_type(tensor, world_rank_),
                                  mpi_op(op), comm_));
    }
    finish_avg(tensor, op, size_);
  }

  std::unique_ptr<Work> allreduce_async(torch::Tensor& tensor, ReduceOp op) override {
    check_tensor(tensor, "allreduce_async");
    if (op == ReduceOp::kAvg && !tensor.is_floating_point()) fail(*this, "allreduce avg needs a floating tensor");
    MPI_Request request;
    BNX_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), count(tensor), mpi_type(tensor, world_rank_),
                                 mpi_op(op), comm_, &request));
    return std::make_unique<MpiWork>(request, tensor, op, size_);
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    check_tensor(tensor, "broadcast");
    if (root < 0 || root >= size_) fail(*this, "broadcast root " + std::to_string(root) + " out of range");
    BNX_MPI_CHECK(MPI_Bcast(tensor.data_ptr(), bytes(tensor), MPI_BYTE, root, comm_));
  }

  torch::Tensor allgather(const torch::Tensor& tensor) override {
    torch::Tensor input = tensor.contiguous();
    check_tensor(input, "allgather");
    std::vector<int64_t> shape{size_};
    for (auto s : input.sizes()) shape.push_back(s);
    torch::Tensor out = torch::empty(shape, input.options());  // (size, *tensor.shape)
    BNX_MPI_CHECK(MPI_Allgather(input.data_ptr(), bytes(input), MPI_BYTE, out.data_ptr(), bytes(input), MPI_BYTE,
                                comm_));
    return out;
  }

  void barrier() override { BNX_MPI_CHECK(MPI_Barrier(comm_)); }

  std::shared_ptr<Communicator> split(int group_size) override {
    int k = resolve_group_size(*this, group_size);
    MPI_Comm sub;
    BNX_MPI_CHECK(MPI_Comm_split(comm_, rank_ / k, rank_, &sub));
    return std::make_shared<MpiCommunicator>(sub);
  }

  [[noreturn]] void abort(const std::string& message) override {
    std::cerr << message << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::abort();
  }

 private:
  void check_tensor(const torch::Tensor& t, const char* what) const {
    if (!t.device().is_cpu()) fail(*this, std::string(what) + ": the MPI communicator takes CPU tensors");
    if (!t.is_contiguous()) fail(*this, std::string(what) + ": tensor must be contiguous");
  }
  int count(const torch::Tensor& t) const {
    if (t.numel() > INT32_MAX) fail(*this, "tensor too large for one MPI call");
    return static_cast<int>(t.numel());
  }
  int bytes(const torch::Tensor& t) const {
    int64_t n = t.numel() * static_cast<int64_t>(t.element_size());
    if (n > INT32_MAX) fail(*this, "tensor too large for one MPI call");
    return static_cast<int>(n);
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1, world_rank_ = 0, local_rank_ = 0, local_size_ = 1;
};

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

std::shared_ptr<Communicator> make_world_communicator() {
  if (!launched_by_mpi()) return make_local_communicator();
  static MpiLifetime lifetime;  // initialized once, finalized at exit
  return std::make_shared<MpiCommunicator>(MPI_COMM_WORLD);
}

}  // namespace bnx::dist
