// Bucketed, hook-driven gradient averaging over a dist::Communicator (see gradient_reducer.h).
#include "dist/gradient_reducer.h"

#include <functional>
#include <sstream>

namespace bnx::dist {

namespace {

std::string describe(const std::string& name, const torch::Tensor& t) {
  std::ostringstream out;
  out << name << " " << t.sizes() << " " << t.scalar_type();
  return out.str();
}

// Verifies that `named` has the same names and shapes on every rank of `comm`; throws naming the
// first difference.
void check_same_on_all_ranks(Communicator& comm, const NamedTensors& named, const std::string& what) {
  if (comm.size() == 1) return;
  int64_t count = static_cast<int64_t>(named.size());
  int64_t max_count = comm.allreduce_scalar(count, ReduceOp::kMax);
  // Entry i's hash, then padding past the end (the count itself is the last element).
  torch::Tensor hashes = torch::zeros({max_count + 1}, torch::kInt64);
  auto h = hashes.accessor<int64_t, 1>();
  for (int64_t i = 0; i < count; ++i) {
    h[i] = static_cast<int64_t>(std::hash<std::string>{}(describe(named[i].first, named[i].second)) >> 1);
  }
  h[max_count] = count;
  torch::Tensor all = comm.allgather(hashes);  // (W, max_count + 1)
  torch::Tensor differs = (all != all[0]).any(0);  // (max_count + 1,)
  if (!differs.any().item<bool>()) return;
  int64_t first = differs.nonzero()[0][0].item<int64_t>();
  std::string mine = first < count ? describe(named[first].first, named[first].second)
                                   : (first == max_count ? std::to_string(count) + " entries" : "nothing");
  fail(comm, what + " differ across ranks at entry " + std::to_string(first) + ": this rank has " + mine);
}

NamedTensors named_parameters(const torch::nn::Module& model) {
  NamedTensors out;
  for (const auto& p : model.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

NamedTensors named_buffers(const torch::nn::Module& model) {
  NamedTensors out;
  for (const auto& b : model.named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace

GradientReducer::GradientReducer(std::shared_ptr<Communicator> comm, const torch::nn::Module& model,
                                 GradientReducerOptions options)
    : GradientReducer(std::move(comm), named_parameters(model), named_buffers(model), options) {}

GradientReducer::~GradientReducer() {
  for (auto& [k, handle] : hooks_) params_[k].second.remove_hook(handle);
}

GradientReducer::GradientReducer(std::shared_ptr<Communicator> comm, NamedTensors parameters,
                                 const NamedTensors& buffers, GradientReducerOptions options)
    : comm_(std::move(comm)), params_(std::move(parameters)), options_(options) {
  if (options_.bucket_bytes <= 0) fail(*comm_, "gradient bucket size must be positive");
  check_same_on_all_ranks(*comm_, params_, "parameters");
  check_same_on_all_ranks(*comm_, buffers, "buffers");
  std::vector<torch::Tensor> state;
  for (const auto& p : params_) state.push_back(p.second);
  for (const auto& b : buffers) state.push_back(b.second);
  comm_->broadcast_coalesced(state, 0);

  // Buckets in reverse parameter order; a new bucket starts when the current one is full or the
  // dtype changes.
  slot_.resize(params_.size());
  seen_.assign(params_.size(), false);
  int64_t bucket_bytes = 0;
  std::vector<torch::TensorOptions> bucket_options;
  for (size_t k = params_.size(); k-- > 0;) {
    const torch::Tensor& p = params_[k].second;
    if (!p.requires_grad()) continue;
    int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || bucket_bytes + bytes > options_.bucket_bytes ||
        bucket_options.back().dtype() != p.dtype()) {
      buckets_.emplace_back();
      bucket_options.push_back(p.options().requires_grad(false));
      bucket_bytes = 0;
    }
    Bucket& b = buckets_.back();
    slot_[k] = {buckets_.size() - 1, b.params.size()};
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].second.numel());
    b.params.push_back(k);
    bucket_bytes += bytes;
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    b.buffer = torch::empty({b.offsets.back() + params_[b.params.back()].second.numel()}, bucket_options[i]);
  }
  reset_step();
  if (options_.overlap) {
    for (size_t k = 0; k < params_.size(); ++k) {
      if (!params_[k].second.requires_grad()) continue;
      hooks_.emplace_back(k, params_[k].second.register_hook([this, k](torch::Tensor grad) { on_gradient(k, grad); }));
    }
  }
}

void GradientReducer::reset_step() {
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.work.reset();
  }
  std::fill(seen_.begin(), seen_.end(), false);
  next_launch_ = 0;
  collectives_pending_ = bytes_pending_ = 0;
}

void GradientReducer::on_gradient(size_t param, const torch::Tensor& grad) {
  auto [bucket_index, position] = slot_[param];
  Bucket& b = buckets_[bucket_index];
  if (seen_[param] || b.work) return;  // reused parameter or bucket already sent: finish() handles it
  seen_[param] = true;
  b.buffer.narrow(0, b.offsets[position], grad.numel()).copy_(grad.reshape({-1}));
  if (--b.pending == 0) launch_ready_buckets();
  // Give in-flight collectives a chance to progress (MPI progresses only inside MPI calls).
  for (size_t i = 0; i < next_launch_; ++i) buckets_[i].work->test();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& b) {
  b.work = comm_->allreduce_async(b.buffer, ReduceOp::kAvg);
  ++collectives_pending_;
  bytes_pending_ += b.buffer.numel() * static_cast<int64_t>(b.buffer.element_size());
}

void GradientReducer::finish() {
  torch::NoGradGuard no_grad;
  // Gradients that no hook delivered (overlap off, or a parameter unused on this rank).
  for (size_t bi = next_launch_; bi < buckets_.size(); ++bi) {
    Bucket& b = buckets_[bi];
    for (size_t pos = 0; pos < b.params.size(); ++pos) {
      size_t k = b.params[pos];
      if (seen_[k]) continue;
      const torch::Tensor& g = params_[k].second.grad();
      auto slice = b.buffer.narrow(0, b.offsets[pos], params_[k].second.numel());
      if (g.defined()) {
        slice.copy_(g.reshape({-1}));
      } else {
        slice.zero_();
      }
      seen_[k] = true;
    }
    b.pending = 0;
  }
  launch_ready_buckets();
  for (auto& b : buckets_) {
    b.work->wait();
    for (size_t pos = 0; pos < b.params.size(); ++pos) {
      torch::Tensor& p = params_[b.params[pos]].second;
      auto averaged = b.buffer.narrow(0, b.offsets[pos], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(averaged);
      } else {
        p.mutable_grad() = averaged.clone();
      }
    }
  }
  collectives_ = collectives_pending_;
  bytes_ = bytes_pending_;
  reset_step();
}

}  // namespace bnx::dist
