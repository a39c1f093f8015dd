// SyncBatchNorm forward/backward (see sync_batch_norm.h), as custom autograd functions: float32
// CPU rows of adjacent channels on bnx's kernels (one rank or many); otherwise, over a group, on
// the CPU with statistics accumulated in float64 whatever the input dtype, and on CUDA with ATen's
// SyncBatchNorm kernels, which read half-precision inputs directly.
#include "models/sync_batch_norm.h"

#include <torch/custom_class.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "models/batch_norm_cpu.h"

namespace bnx::models {
namespace {

// Lets the autograd context keep the communicator alive until backward runs.
struct CommHolder : torch::CustomClassHolder {
  explicit CommHolder(std::shared_ptr<dist::Communicator> c) : comm(std::move(c)) {}
  std::shared_ptr<dist::Communicator> comm;
};
const auto comm_holder_class = torch::class_<CommHolder>("bnx", "CommHolder");

// Reduction dims and broadcast shape for channel dim 1 of an input of `dim` dims.
std::vector<int64_t> reduce_dims(int64_t dim) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < dim; ++d) dims.push_back(d);
  return dims;
}
std::vector<int64_t> channel_shape(int64_t dim, int64_t c) {
  std::vector<int64_t> shape(dim, 1);
  shape[1] = c;
  return shape;
}

// Running statistics travel outside the autograd inputs (they may be undefined, and need no grad).
struct RunningStats {
  torch::Tensor mean, var;  // (C,) each, or undefined when not tracked
};

// Half-precision inputs (autocast's bf16/fp16) are normalized with float32 statistics and math.
torch::ScalarType accumulate_type(const torch::Tensor& x) {
  const auto t = x.scalar_type();
  return t == torch::kHalf || t == torch::kBFloat16 ? torch::kFloat32 : t;
}

// CUDA: ATen's SyncBatchNorm kernels (those of PyTorch's SyncBatchNorm), which take bf16/fp16
// inputs with float32 statistics, so no activation is copied to float32; a handful of kernel
// launches per layer. Forward all-gathers each rank's (mean, invstd, count) of 2C+1 accumulate-type
// values and merges them (Chan et al.'s pairwise update, which also updates the running
// statistics); backward all-reduces 2C sums. An empty shard sends count 0 (mean 0, invstd 1),
// which the merge ignores because empty shards are the last ranks (data::DistributedSampler).
struct CudaSaved {
  torch::Tensor y, mean, invstd, count;  // y: (N, C, *); mean, invstd: (C,) accumulate type; count: (1,)
};
CudaSaved cuda_forward(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                       RunningStats& running, double eps, double momentum, dist::Communicator& comm) {
  const int64_t c = x.size(1);
  const int64_t local_count = x.numel() / c;
  const auto acc = x.options().dtype(accumulate_type(x));
  torch::Tensor local;  // (2C+1,) [mean(C), invstd(C), count]
  if (local_count > 0) {
    auto [m, invstd] = torch::batch_norm_stats(x, eps);
    local = torch::cat({m, invstd, torch::full({1}, static_cast<double>(local_count), acc)});
  } else {
    local = torch::cat({torch::zeros({c}, acc), torch::ones({c}, acc), torch::zeros({1}, acc)});
  }
  torch::Tensor all = comm.allgather(local);  // (W, 2C+1), rank order
  // The merge reads counts in the running statistics' dtype (ATen's convention).
  torch::Tensor counts = all.select(1, 2 * c).to(running.mean.defined() ? running.mean.scalar_type() : x.scalar_type());
  if (local_count <= 1 && counts.sum().item<double>() <= 1) {  // a rank holding > 1 knows the sum is > 1
    dist::fail(comm, "SyncBatchNorm: expected more than 1 value per channel in the global batch (got " +
                         std::to_string(static_cast<int64_t>(counts.sum().item<double>())) + ", input " +
                         c10::str(x.sizes()) + " on this rank)");
  }
  auto [mean, invstd] = torch::batch_norm_gather_stats_with_counts(x, all.narrow(1, 0, c), all.narrow(1, c, c),
                                                                   running.mean, running.var, momentum, eps, counts);
  torch::Tensor y = local_count > 0 ? torch::batch_norm_elemt(x, weight, bias, mean, invstd, eps) : torch::empty_like(x);
  return {y, mean, invstd, counts.sum().to(acc.dtype()).reshape({1})};
}

// Returns dx, grad_weight and grad_bias (this rank's; the gradient reducer averages them).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> cuda_backward(const torch::Tensor& dy, const torch::Tensor& x,
                                                                      const torch::Tensor& weight,
                                                                      const torch::Tensor& mean, const torch::Tensor& invstd,
                                                                      const torch::Tensor& count, dist::Communicator& comm) {
  const int64_t c = x.size(1);
  if (x.numel() == 0) {
    torch::Tensor sums = torch::zeros({2 * c}, mean.options());  // this rank's share of the collective
    comm.allreduce(sums, dist::ReduceOp::kSum);
    return {torch::empty_like(x), torch::zeros_like(weight), torch::zeros_like(weight)};
  }
  auto [sum_dy, sum_dy_xmu, grad_weight, grad_bias] =
      torch::batch_norm_backward_reduce(dy, x, mean, invstd, weight, true, true, true);
  torch::Tensor sums = torch::cat({sum_dy, sum_dy_xmu});  // (2C,) accumulate type
  comm.allreduce(sums, dist::ReduceOp::kSum);
  // The kernel divides the sums by the total of its int32 counts: pass the means and a count of 1
  // (a global count may exceed int32).
  sums.div_(count);
  torch::Tensor one = torch::ones({1}, x.options().dtype(torch::kInt32));
  torch::Tensor dx = torch::batch_norm_backward_elemt(dy, x, mean, invstd, weight, sums.narrow(0, 0, c),
                                                      sums.narrow(0, c, c), one);
  return {dx, grad_weight, grad_bias};
}

// Float32 CPU inputs with rows of adjacent channels (channels-last, (N, C), channel slices), on one
// rank or many (`comm` null = per-rank): the kernels of batch_norm_cpu.h, with the ReLU that
// follows the layer fused when `relu`. Per-channel arithmetic is done in float64 in plain loops
// (a few dozen values: tensor ops would cost more than the kernels at small sizes).
struct RowsBatchNormFunction : torch::autograd::Function<RowsBatchNormFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double eps, double momentum, std::shared_ptr<dist::Communicator> comm, bool relu) {
    const int64_t c = x.size(1);
    const int64_t local_count = x.numel() / c;
    // Sums shifted by the running mean (identical on all ranks), so sums of squares do not cancel.
    torch::Tensor shift = running.mean.defined() ? running.mean : torch::zeros({c});
    torch::Tensor stats = torch::empty({2 * c + 1}, torch::kFloat64);  // [count, sum(C), sum of squares(C)]
    stats[0] = static_cast<double>(local_count);
    stats.narrow(0, 1, 2 * c).copy_(cpu_bn::shifted_sums(x, shift));
    if (comm) comm->allreduce(stats, dist::ReduceOp::kSum);
    const double* s = stats.data_ptr<double>();
    const double n = s[0];
    if (local_count <= 1 && n <= 1) {  // a rank holding > 1 knows the sum is > 1
      const std::string what = "SyncBatchNorm: expected more than 1 value per channel in the global batch (got " +
                               std::to_string(static_cast<int64_t>(n)) + ", input " + c10::str(x.sizes()) +
                               " on this rank)";
      if (comm) dist::fail(*comm, what);
      TORCH_CHECK(false, what);
    }
    torch::Tensor mean = torch::empty({c}), invstd = torch::empty({c});    // (C,) float32
    torch::Tensor scale = torch::empty({c}), offset = torch::empty({c});   // (C,) float32
    float *mean_p = mean.data_ptr<float>(), *invstd_p = invstd.data_ptr<float>();
    float *scale_p = scale.data_ptr<float>(), *offset_p = offset.data_ptr<float>();
    const float* k = shift.data_ptr<float>();
    const float* w = weight.data_ptr<float>();
    const float* b = bias.data_ptr<float>();
    float* rm = running.mean.defined() ? running.mean.data_ptr<float>() : nullptr;
    float* rv = running.var.defined() ? running.var.data_ptr<float>() : nullptr;
    for (int64_t j = 0; j < c; ++j) {
      const double shifted_mean = s[1 + j] / n;
      const double m = k[j] + shifted_mean;
      const double var = std::max(s[1 + c + j] / n - shifted_mean * shifted_mean, 0.0);  // biased
      const double is = 1.0 / std::sqrt(var + eps);
      mean_p[j] = static_cast<float>(m);
      invstd_p[j] = static_cast<float>(is);
      scale_p[j] = static_cast<float>(w[j] * is);
      offset_p[j] = static_cast<float>(b[j] - m * w[j] * is);
      if (rm) {
        rm[j] = static_cast<float>((1 - momentum) * rm[j] + momentum * m);
        rv[j] = static_cast<float>((1 - momentum) * rv[j] + momentum * var * n / (n - 1));
      }
    }
    torch::Tensor y = cpu_bn::normalize(x, scale, offset, relu);
    ctx->save_for_backward({x, relu ? y : torch::Tensor(), weight, mean, invstd});
    ctx->saved_data["count"] = n;
    if (comm) ctx->saved_data["comm"] = c10::make_intrusive<CommHolder>(std::move(comm));
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];       // (N, C, *) rows
    const torch::Tensor& y = saved[1];       // the ReLU's output, or undefined
    const torch::Tensor& weight = saved[2];  // (C,)
    const torch::Tensor& mean = saved[3];    // (C,) float32
    const torch::Tensor& invstd = saved[4];  // (C,) float32
    const double n = ctx->saved_data["count"].toDouble();
    const int64_t c = x.size(1);
    torch::Tensor dy = cpu_bn::as_rows(grads[0]);
    torch::Tensor sums = cpu_bn::backward_sums(dy, y, x, mean);  // (2C,) [sum dz, sum dz (x - mean)]
    // This rank's parameter gradients (the gradient reducer averages them).
    torch::Tensor grad_bias = sums.narrow(0, 0, c).to(torch::kFloat32);
    torch::Tensor grad_weight = (sums.narrow(0, c, c) * invstd).to(torch::kFloat32);
    if (ctx->saved_data.count("comm")) {
      ctx->saved_data["comm"].toCustomClass<CommHolder>()->comm->allreduce(sums, dist::ReduceOp::kSum);
    }
    // dx = w invstd (dz - mean(dz) - xhat mean(dz xhat)) = a (dz - mean(dz)) + b (x - mean).
    torch::Tensor a = torch::empty({c}), mean_dz = torch::empty({c}), coef = torch::empty({c});  // (C,) float32
    const double* s = sums.data_ptr<double>();
    const float *invstd_p = invstd.data_ptr<float>(), *w = weight.data_ptr<float>();
    float *a_p = a.data_ptr<float>(), *mean_dz_p = mean_dz.data_ptr<float>(), *coef_p = coef.data_ptr<float>();
    for (int64_t j = 0; j < c; ++j) {
      const double is = invstd_p[j];
      const double aj = w[j] * is;
      a_p[j] = static_cast<float>(aj);
      mean_dz_p[j] = static_cast<float>(s[j] / n);
      coef_p[j] = static_cast<float>(-aj * is * is * s[c + j] / n);
    }
    torch::Tensor dx = cpu_bn::backward_input(dy, y, x, mean, a, mean_dz, coef);
    return {dx, grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

struct SyncBatchNormFunction : torch::autograd::Function<SyncBatchNormFunction> {
  // x: (N, C, *); weight/bias: (C,) (ones/zeros when not affine). Every tensor stays on x's device
  // (the allreduce too, with NCCL); the only host sync is for an empty or 1-value local shard.
  // Local statistics come from fused ATen reductions (one pass each, double accumulation on CPU),
  // so the distributed path costs about what the single-process kernels do.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& weight, const torch::Tensor& bias, RunningStats running,
                               double eps, double momentum, std::shared_ptr<dist::Communicator> comm) {
    if (x_in.is_cuda()) {
      // ATen's kernels take channels-last or contiguous inputs (as PyTorch's SyncBatchNorm).
      torch::Tensor x = x_in.is_contiguous(at::MemoryFormat::ChannelsLast) ? x_in : x_in.contiguous();
      CudaSaved r = cuda_forward(x, weight, bias, running, eps, momentum, *comm);
      ctx->save_for_backward({x, weight, r.mean, r.invstd, r.count});
      ctx->saved_data["comm"] = c10::make_intrusive<CommHolder>(std::move(comm));
      return r.y;
    }
    const torch::Tensor& x = x_in;
    torch::Tensor& running_mean = running.mean;
    torch::Tensor& running_var = running.var;
    const int64_t c = x.size(1);
    const auto dims = reduce_dims(x.dim());
    const auto shape = channel_shape(x.dim(), c);
    const auto f64 = x.options().dtype(torch::kFloat64);
    const auto acc = accumulate_type(x);

    // Per rank: n, n (m - shift) and n (v + (m - shift)^2), the count, sum and sum of squares of
    // x - shift, where m and v are the local mean and biased variance and the shift is the running
    // mean (identical on all ranks), so the global sums of squares do not cancel.
    torch::Tensor shift = running_mean.defined() ? running_mean.to(torch::kFloat64, /*non_blocking=*/false, /*copy=*/true)
                                                 : torch::zeros({c}, f64);
    const int64_t local_count = x.numel() / c;
    torch::Tensor stats = torch::zeros({2 * c + 1}, f64);  // [count, sum(C), sum of squares(C)]
    if (local_count > 0) {
      const double n = static_cast<double>(local_count);
      // ATen's fused batch-norm statistics kernel: local mean and biased variance, (C,) each.
      auto [m, v] = torch::batch_norm_update_stats(acc == x.scalar_type() ? x : x.to(acc), {}, {}, 0.0);
      torch::Tensor d = m.to(torch::kFloat64) - shift;
      stats.narrow(0, 0, 1).fill_(n);
      stats.narrow(0, 1, c).copy_(d * n);
      stats.narrow(0, 1 + c, c).copy_((v.to(torch::kFloat64) + d.square()) * n);
    }
    comm->allreduce(stats, dist::ReduceOp::kSum);

    torch::Tensor count = stats.narrow(0, 0, 1);  // (1,) the group's values per channel
    if (local_count <= 1 && count.item<double>() <= 1) {  // a rank holding > 1 knows the sum is > 1
      dist::fail(*comm, "SyncBatchNorm: expected more than 1 value per channel in the global batch (got " +
                            std::to_string(count.item<int64_t>()) + ", input " + c10::str(x.sizes()) + " on this rank)");
    }
    torch::Tensor shifted_mean = stats.narrow(0, 1, c) / count;
    torch::Tensor mean = shift + shifted_mean;                                              // (C,)
    torch::Tensor var = (stats.narrow(0, 1 + c, c) / count - shifted_mean.square()).clamp_min(0);  // (C,) biased

    if (running_mean.defined()) {
      torch::NoGradGuard no_grad;
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.scalar_type()), momentum);
      running_var.mul_(1 - momentum).add_((var * count / (count - 1)).to(running_var.scalar_type()), momentum);
    }

    torch::Tensor mean_acc = mean.to(acc);
    torch::Tensor invstd = (var + eps).rsqrt().to(acc);  // (C,)
    torch::Tensor y;
    if (local_count == 0) {
      y = torch::empty_like(x);  // an empty shard (ATen's kernels reject some empty layouts)
    } else if (acc == x.scalar_type()) {
      // The fused inference kernel computes (x - mean) / sqrt(var + eps) * weight + bias.
      y = torch::batch_norm(x, weight, bias, mean_acc, var.to(acc), false, 0.0, eps, false);
    } else {
      torch::Tensor scale = weight.to(acc) * invstd;                 // (C,)
      torch::Tensor offset = bias.to(acc) - mean_acc * scale;        // (C,)
      y = torch::addcmul(offset.view(shape), x.to(acc), scale.view(shape)).to(x.scalar_type());
    }
    ctx->save_for_backward({x, weight, mean_acc, invstd, count});
    ctx->saved_data["comm"] = c10::make_intrusive<CommHolder>(std::move(comm));
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];    // (C,) accumulate type
    const torch::Tensor& invstd = saved[3];  // (C,) accumulate type
    const torch::Tensor& count = saved[4];   // (1,) the global count: float64 (CPU), accumulate type (CUDA)
    auto comm = ctx->saved_data["comm"].toCustomClass<CommHolder>()->comm;
    if (x.is_cuda()) {
      const auto format = x.is_contiguous(at::MemoryFormat::ChannelsLast) ? at::MemoryFormat::ChannelsLast
                                                                          : at::MemoryFormat::Contiguous;
      auto [dx, grad_weight, grad_bias] = cuda_backward(grads[0].contiguous(format), x, weight, mean, invstd, count, *comm);
      return {dx, grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
    const auto acc = mean.scalar_type();
    const int64_t c = x.size(1);
    const auto shape = channel_shape(x.dim(), c);
    torch::Tensor dy = grads[0].to(acc);  // (N, C, *)
    torch::Tensor xa = x.to(acc);         // (N, C, *), x itself unless half precision

    // Local sum(dy) and sum(dy * xhat) with the global mean and invstd: ATen's fused batch-norm
    // backward reduction (its grad_bias and grad_weight).
    torch::Tensor sums = torch::zeros({2 * c}, x.options().dtype(torch::kFloat64));  // [sum dy(C), sum dy*xhat(C)]
    if (x.numel() > 0) {
      auto reduced = torch::native_batch_norm_backward(dy, xa, weight.to(acc), {}, {}, mean, invstd, true, 0.0,
                                                       {false, true, true});
      sums.narrow(0, 0, c).copy_(std::get<2>(reduced));
      sums.narrow(0, c, c).copy_(std::get<1>(reduced));
    }
    torch::Tensor grad_bias = sums.narrow(0, 0, c).to(weight.scalar_type(), false, /*copy=*/true);   // local
    torch::Tensor grad_weight = sums.narrow(0, c, c).to(weight.scalar_type(), false, /*copy=*/true); // local
    comm->allreduce(sums, dist::ReduceOp::kSum);

    // dx = w invstd (dy - mean(dy) - xhat mean(dy xhat)) = a dy + b x + k per channel, with
    // a = w invstd, b = -a invstd mean(dy xhat), k = -a mean(dy) - b mean.
    torch::Tensor mean_dy = (sums.narrow(0, 0, c) / count).to(acc);       // (C,)
    torch::Tensor mean_dy_xhat = (sums.narrow(0, c, c) / count).to(acc);  // (C,)
    if (x.numel() == 0) {
      return {torch::empty_like(x), grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor(),
              torch::Tensor()};
    }
    torch::Tensor a = weight.to(acc) * invstd;                            // (C,)
    torch::Tensor b = -a * invstd * mean_dy_xhat;                         // (C,)
    torch::Tensor k = -a * mean_dy - b * mean;                            // (C,)
    torch::Tensor dx = torch::addcmul(torch::addcmul(k.view(shape), xa, b.view(shape)), dy, a.view(shape));
    return {dx.to(x.scalar_type()), grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

SyncBatchNormImpl::SyncBatchNormImpl(SyncBatchNormOptions options, std::shared_ptr<dist::Communicator> group)
    : options_(std::move(options)), group_(std::move(group)) {
  const int64_t c = options_.num_features();
  TORCH_CHECK(c > 0, "SyncBatchNorm: num_features must be positive, got ", c);
  TORCH_CHECK(options_.eps() > 0, "SyncBatchNorm: eps must be positive, got ", options_.eps());
  if (options_.affine()) {
    weight = register_parameter("weight", torch::ones({c}));
    bias = register_parameter("bias", torch::zeros({c}));
  }
  if (options_.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kInt64));
  }
}

void SyncBatchNormImpl::set_group(std::shared_ptr<dist::Communicator> group) {
  group_ = std::move(group);
  // Forward shifts by the running mean, which must therefore be the same on every rank of the
  // group: start from the group's average (per-rank statistics may differ before a conversion).
  if (group_ && group_->size() > 1 && running_mean.defined()) {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> stats = {running_mean, running_var};
    group_->allreduce_coalesced(stats, dist::ReduceOp::kAvg);
  }
}

torch::Tensor SyncBatchNormImpl::forward(const torch::Tensor& x) { return normalize(x, false); }

torch::Tensor SyncBatchNormImpl::forward_relu(const torch::Tensor& x) { return normalize(x, true); }

torch::Tensor SyncBatchNormImpl::normalize(const torch::Tensor& x, bool relu) {
  const int64_t c = options_.num_features();
  TORCH_CHECK(x.dim() >= 2 && x.dim() <= 4, "SyncBatchNorm: expected 2D, 3D or 4D input (got ", x.dim(), "D)");
  TORCH_CHECK(x.size(1) == c, "SyncBatchNorm: expected ", c, " channels, got input of shape ", x.sizes());

  double factor = 0.0;
  if (is_training() && options_.track_running_stats()) {
    num_batches_tracked.add_(1);
    factor = options_.momentum() ? *options_.momentum() : 1.0 / num_batches_tracked.item<double>();
  }
  const bool use_batch_stats = is_training() || !options_.track_running_stats();
  // As PyTorch's SyncBatchNorm, statistics are synchronized in training mode only.
  const bool synchronized = is_training() && group_ && group_->size() > 1;
  const auto param_options = x.options().dtype(accumulate_type(x));
  torch::Tensor w = weight.defined() ? weight : torch::ones({c}, param_options);
  torch::Tensor b = bias.defined() ? bias : torch::zeros({c}, param_options);
  if (use_batch_stats && uses_row_kernels(x)) {
    if (!synchronized) {
      TORCH_CHECK(x.numel() / c > 1, "SyncBatchNorm: expected more than 1 value per channel when training (got input ",
                  x.sizes(), ")");
    }
    return RowsBatchNormFunction::apply(x, w, b, RunningStats{running_mean, running_var}, options_.eps(), factor,
                                        synchronized ? group_ : nullptr, relu);
  }
  if (!use_batch_stats && !torch::GradMode::is_enabled() && uses_row_kernels(x)) {
    // Inference with the running statistics (evaluation): one pass, ReLU included.
    torch::Tensor scale = w * (running_var + options_.eps()).rsqrt();  // (C,)
    return cpu_bn::normalize(x, scale, b - running_mean * scale, relu);
  }
  torch::Tensor y;
  if (!synchronized) {
    TORCH_CHECK(!use_batch_stats || x.numel() / c > 1,
                "SyncBatchNorm: expected more than 1 value per channel when training (got input ", x.sizes(), ")");
    // cuDNN where LibTorch enables it (GPU).
    y = torch::batch_norm(x, weight, bias, running_mean, running_var, use_batch_stats, factor, options_.eps(),
                          at::globalContext().userEnabledCuDNN());
  } else {
    y = SyncBatchNormFunction::apply(x, w, b, RunningStats{running_mean, running_var}, options_.eps(), factor, group_);
  }
  return relu ? torch::relu_(y) : y;
}

bool SyncBatchNormImpl::uses_row_kernels(const torch::Tensor& x) const {
  const auto f32 = torch::kFloat32;
  return cpu_bn::enabled() && x.device().is_cpu() && x.scalar_type() == f32 && cpu_bn::row_stride(x).has_value() &&
         (!weight.defined() || weight.scalar_type() == f32) &&
         (!running_mean.defined() || running_mean.scalar_type() == f32);
}

void SyncBatchNormImpl::reset_running_stats() {
  if (!running_mean.defined()) return;
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void SyncBatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "bnx::SyncBatchNorm(" << options_.num_features() << ", eps=" << options_.eps()
         << ", group=" << (group_ ? std::to_string(group_->size()) + " ranks" : std::string("local")) << ")";
}

int convert_sync_batchnorm(torch::nn::Module& model, const std::shared_ptr<dist::Communicator>& group) {
  std::vector<SyncBatchNormImpl*> layers;
  if (auto* self = model.as<SyncBatchNormImpl>()) layers.push_back(self);
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = module->as<SyncBatchNormImpl>()) layers.push_back(bn);
  }
  for (auto* bn : layers) bn->set_group(group);
  return static_cast<int>(layers.size());
}

}  // namespace bnx::models
