// NcclCommunicator (see nccl_communicator.h). Every NCCL and CUDA call is checked and reported with
// the world rank and the library's error string.
#include "dist/nccl_communicator.h"

#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

namespace bnx::dist {
namespace {

#define BNX_NCCL_CHECK(rank, call)                                                                    \
  do {                                                                                                \
    ncclResult_t r_ = (call);                                                                         \
    if (r_ != ncclSuccess) {                                                                          \
      throw DistError("rank " + std::to_string(rank) + ": " #call " failed at " __FILE__ ":" +        \
                      std::to_string(__LINE__) + ": " + ncclGetErrorString(r_));                      \
    }                                                                                                 \
  } while (0)

#define BNX_CUDA_CHECK(rank, call)                                                                    \
  do {                                                                                                \
    cudaError_t e_ = (call);                                                                          \
    if (e_ != cudaSuccess) {                                                                          \
      throw DistError("rank " + std::to_string(rank) + ": " #call " failed at " __FILE__ ":" +        \
                      std::to_string(__LINE__) + ": " + cudaGetErrorString(e_));                      \
    }                                                                                                 \
  } while (0)

ncclDataType_t nccl_type(const torch::Tensor& t, int rank) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kInt64: return ncclInt64;
    case torch::kUInt8: return ncclUint8;
    default:
      throw DistError("rank " + std::to_string(rank) + ": NCCL collectives do not support " +
                      std::string(c10::toString(t.scalar_type())));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kAvg: return ncclAvg;
    case ReduceOp::kMax: return ncclMax;
  }
  return ncclSum;
}

// Completion of a collective: an event recorded on the stream after it.
class NcclWork : public Work {
 public:
  NcclWork(cudaEvent_t event, int rank) : event_(event), rank_(rank) {}
  ~NcclWork() override { cudaEventDestroy(event_); }
  void wait() override {
    // Later work on the current stream is ordered after the collective.
    BNX_CUDA_CHECK(rank_, cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream().stream(), event_, 0));
  }
  bool test() override { return cudaEventQuery(event_) == cudaSuccess; }

 private:
  cudaEvent_t event_;
  int rank_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<Communicator> mpi, NcclOptions options)
      : mpi_(std::move(mpi)), options_(options), side_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true)) {
    ncclUniqueId id;
    if (mpi_->rank() == 0) BNX_NCCL_CHECK(world_rank(), ncclGetUniqueId(&id));
    torch::Tensor bytes = torch::empty({static_cast<int64_t>(sizeof(id))}, torch::kUInt8);
    std::memcpy(bytes.data_ptr(), &id, sizeof(id));
    mpi_->broadcast(bytes, 0);
    std::memcpy(&id, bytes.data_ptr(), sizeof(id));
    BNX_NCCL_CHECK(world_rank(), ncclCommInitRank(&comm_, mpi_->size(), id, mpi_->rank()));
    BNX_CUDA_CHECK(world_rank(), cudaGetDevice(&device_));
    watchdog_ = std::thread([this] { watch(); });
  }
  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    watchdog_.join();
    ncclCommDestroy(comm_);
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  int world_rank() const override { return mpi_->world_rank(); }

  void allreduce(torch::Tensor& tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) return mpi_->allreduce(tensor, op);  // host values go through MPI
    allreduce_async(tensor, op)->wait();
  }

  std::unique_ptr<Work> allreduce_async(torch::Tensor& tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) return mpi_->allreduce_async(tensor, op);
    check(tensor, "allreduce");
    // On the side stream, after everything the current stream has queued (the producer of the
    // tensor: backward's gradient kernels), so the current stream goes on with backward while the
    // collective runs; Work::wait orders the current stream after it again.
    cudaEvent_t ready;
    BNX_CUDA_CHECK(world_rank(), cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
    BNX_CUDA_CHECK(world_rank(), cudaEventRecord(ready, c10::cuda::getCurrentCUDAStream().stream()));
    BNX_CUDA_CHECK(world_rank(), cudaStreamWaitEvent(side_.stream(), ready, 0));
    BNX_CUDA_CHECK(world_rank(), cudaEventDestroy(ready));  // released once the wait has passed
    // The caching allocator must not hand the tensor's memory out again before the side stream is done.
    c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), side_);
    BNX_NCCL_CHECK(world_rank(), ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                                               nccl_type(tensor, world_rank()), nccl_op(op), comm_, side_.stream()));
    return track(side_.stream());
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    if (!tensor.is_cuda()) return mpi_->broadcast(tensor, root);
    check(tensor, "broadcast");
    auto stream = c10::cuda::getCurrentCUDAStream();
    const size_t bytes = tensor.numel() * tensor.element_size();
    BNX_NCCL_CHECK(world_rank(), ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), bytes, ncclUint8, root, comm_,
                                               stream.stream()));
    track(stream.stream())->wait();
  }

  torch::Tensor allgather(const torch::Tensor& tensor) override {
    if (!tensor.is_cuda()) return mpi_->allgather(tensor);
    torch::Tensor input = tensor.contiguous();
    std::vector<int64_t> shape{size()};
    for (auto s : input.sizes()) shape.push_back(s);
    torch::Tensor out = torch::empty(shape, input.options());  // (size, *tensor.shape)
    auto stream = c10::cuda::getCurrentCUDAStream();
    BNX_NCCL_CHECK(world_rank(), ncclAllGather(input.data_ptr(), out.data_ptr(), input.numel() * input.element_size(),
                                               ncclUint8, comm_, stream.stream()));
    track(stream.stream())->wait();
    return out;
  }

  void barrier() override { mpi_->barrier(); }

  std::shared_ptr<Communicator> split(int group_size) override {
    return std::make_shared<NcclCommunicator>(mpi_->split(group_size), options_);
  }

  [[noreturn]] void abort(const std::string& message) override {
    ncclCommAbort(comm_);
    mpi_->abort(message);
    std::abort();  // not reached: MPI_Abort ends the process
  }

 private:
  void check(const torch::Tensor& t, const char* what) const {
    if (!t.is_contiguous()) fail(*this, std::string(what) + ": tensor must be contiguous");
  }

  // Records an event after the collective and hands it to the watchdog.
  std::unique_ptr<Work> track(cudaStream_t stream) {
    cudaEvent_t event, watched;
    BNX_CUDA_CHECK(world_rank(), cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    BNX_CUDA_CHECK(world_rank(), cudaEventCreateWithFlags(&watched, cudaEventDisableTiming));
    BNX_CUDA_CHECK(world_rank(), cudaEventRecord(event, stream));
    BNX_CUDA_CHECK(world_rank(), cudaEventRecord(watched, stream));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      in_flight_.push_back({watched, std::chrono::steady_clock::now()});
    }
    return std::make_unique<NcclWork>(event, world_rank());
  }

  // Aborts on an asynchronous NCCL error or a collective older than the timeout. It runs on the
  // communicator's GPU, and never calls MPI: MPI is initialized MPI_THREAD_SERIALIZED, so only the
  // main thread may. It ends this process instead; mpirun then ends the others (as when a rank dies).
  void watch() {
    cudaSetDevice(device_);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      std::string problem;
      if (async != ncclSuccess && async != ncclInProgress) problem = std::string("NCCL error: ") + ncclGetErrorString(async);
      while (!in_flight_.empty() && cudaEventQuery(in_flight_.front().event) == cudaSuccess) {
        cudaEventDestroy(in_flight_.front().event);
        in_flight_.pop_front();
      }
      if (!in_flight_.empty()) {
        double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - in_flight_.front().started).count();
        if (age > options_.timeout_seconds) {
          problem = "a collective has not finished after " + std::to_string(age) + " s (timeout " +
                    std::to_string(options_.timeout_seconds) + " s); another rank may have died or hung";
        }
      }
      if (!problem.empty()) {
        std::string message = "rank " + std::to_string(world_rank()) + ": " + problem + "; aborting the job";
        ncclCommAbort(comm_);
        std::fprintf(stderr, "bnx: %s\n", message.c_str());
        std::fflush(stderr);
        std::_Exit(1);
      }
    }
  }

  struct InFlight {
    cudaEvent_t event;
    std::chrono::steady_clock::time_point started;
  };
  std::shared_ptr<Communicator> mpi_;
  NcclOptions options_;
  c10::cuda::CUDAStream side_;  // allreduces, overlapping the current stream's work
  ncclComm_t comm_ = nullptr;
  int device_ = 0;  // the GPU of comm_ (the watchdog thread sets it as its own)
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<InFlight> in_flight_;
  bool stop_ = false;
  std::thread watchdog_;
};

}  // namespace

std::shared_ptr<Communicator> make_nccl_communicator(std::shared_ptr<Communicator> mpi, NcclOptions options) {
  return std::make_shared<NcclCommunicator>(std::move(mpi), options);
}

int select_cuda_device(const Communicator& comm) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    fail(comm, "the config asks for a GPU but this rank sees none (CUDA_VISIBLE_DEVICES=" +
                   std::string(std::getenv("CUDA_VISIBLE_DEVICES") ? std::getenv("CUDA_VISIBLE_DEVICES") : "unset") + ")");
  }
  const int device = comm.local_rank() % count;
  BNX_CUDA_CHECK(comm.world_rank(), cudaSetDevice(device));
  return device;
}

}  // namespace bnx::dist
