// LRN kernels over rows of adjacent channels (see local_response_norm.h). Per row of C channels:
// forward s_c = k + alpha * (sum of x_j^2 over the window of c) / size, d_c = s_c^beta, y_c = x_c / d_c;
// backward dx_i = g_i / d_i - (2 alpha beta / size) x_i * sum over {c : i in window(c)} of
// g_c x_c / (d_c s_c). Window sums run over zero-padded copies of a block of rows laid end to end,
// and every step is one long loop the compiler vectorizes (AVX2 clones on x86-64 GCC, as in
// batch_norm_cpu.cpp).
// Rows are independent, so results do not depend on the number of threads.
#include "models/local_response_norm.h"

#include "models/batch_norm_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BNX_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BNX_SIMD_CLONES
#endif

namespace bnx::models {
namespace {

constexpr int64_t kGrain = 256;  // rows per parallel task, at least

struct Window {
  int64_t size, before, after;  // channels summed: [c - before, c + after], size = before + after + 1
  float alpha, beta, k;
};

Window window_of(const torch::nn::LocalResponseNormOptions& o) {
  return {o.size(), o.size() / 2, (o.size() - 1) / 2, static_cast<float>(o.alpha()), static_cast<float>(o.beta()),
          static_cast<float>(o.k())};
}

// Rows are processed kBlock at a time so that the arithmetic runs over long contiguous arrays: C is
// small here (8 and 24 channels in the Fashion-MNIST stem), and per-row loops of that length spent
// their time in loop overhead. Each element still sees exactly the per-row kernel's operations in
// the same order (bit-identical results).
constexpr int64_t kBlock = 64;

// window_sums: out[i * c + j] = 0 + p[i * span + j] + ... + p[i * span + j + size - 1] for rows i < n,
// where p holds each row's values between zeros (span = c + size - 1 per row); `flat` is scratch of
// n * span. The sums run over the flat array, then the rows' c sums are gathered.
BNX_SIMD_CLONES void window_sums(const float* p, int64_t n, int64_t c, int64_t size, float* flat, float* out) {
  const int64_t span = c + size - 1, m = n * span - (size - 1);
  for (int64_t f = 0; f < m; ++f) flat[f] = 0.0f;
  for (int64_t e = 0; e < size; ++e) {
    const float* __restrict pe = p + e;
    float* __restrict fl = flat;
    for (int64_t f = 0; f < m; ++f) fl[f] += pe[f];
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c; ++j) out[i * c + j] = flat[i * span + j];
  }
}

// Rows [r0, r1) of x (row stride xs) -> y, s, d (row-contiguous, C per row; s, d may be null).
BNX_SIMD_CLONES void forward_rows(const float* x, int64_t xs, int64_t r0, int64_t r1, int64_t c, Window w, float* y,
                                  float* s_out, float* d_out) {
  const int64_t span = c + w.size - 1;
  std::vector<float> padded(kBlock * span, 0.0f), flat(kBlock * span), in_buf(kBlock * c), sum_buf(kBlock * c),
      scale(kBlock * c), denom(kBlock * c);
  const float alpha = w.alpha, k = w.k, beta = w.beta, size = static_cast<float>(w.size);
  for (int64_t r = r0; r < r1; r += kBlock) {
    const int64_t n = std::min(kBlock, r1 - r), nc = n * c;
    float* __restrict in = in_buf.data();
    for (int64_t i = 0; i < n; ++i) {  // the block's rows, and their squares between zeros
      const float* row = x + (r + i) * xs;
      float* sq = padded.data() + i * span + w.before;
      for (int64_t j = 0; j < c; ++j) {
        in[i * c + j] = row[j];
        sq[j] = row[j] * row[j];
      }
    }
    float* __restrict sum = sum_buf.data();
    window_sums(padded.data(), n, c, w.size, flat.data(), sum);
    float* __restrict sc = s_out ? s_out + r * c : scale.data();
    float* __restrict dn = d_out ? d_out + r * c : denom.data();
    float* __restrict out = y + r * c;
    for (int64_t j = 0; j < nc; ++j) sc[j] = sum[j] / size * alpha + k;
    if (beta == 0.75f) {
      for (int64_t j = 0; j < nc; ++j) {
        const float root = std::sqrt(sc[j]);
        dn[j] = root * std::sqrt(root);
      }
    } else {
      for (int64_t j = 0; j < nc; ++j) dn[j] = std::pow(sc[j], beta);
    }
    for (int64_t j = 0; j < nc; ++j) out[j] = in[j] / dn[j];
  }
}

// Rows [r0, r1): dx from dy (row stride gs), x (row stride xs) and the forward's s, d.
BNX_SIMD_CLONES void backward_rows(const float* g, int64_t gs, const float* x, int64_t xs, const float* s,
                                   const float* d, int64_t r0, int64_t r1, int64_t c, Window w, float* dx) {
  const int64_t span = c + w.size - 1;
  std::vector<float> padded(kBlock * span, 0.0f), flat(kBlock * span), g_buf(kBlock * c), in_buf(kBlock * c),
      t_buf(kBlock * c), u_buf(kBlock * c);
  const float coef = 2.0f * w.alpha * w.beta / static_cast<float>(w.size);
  for (int64_t r = r0; r < r1; r += kBlock) {
    const int64_t n = std::min(kBlock, r1 - r), nc = n * c;
    float* __restrict gr = g_buf.data();
    float* __restrict in = in_buf.data();
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < c; ++j) gr[i * c + j] = g[(r + i) * gs + j];
      for (int64_t j = 0; j < c; ++j) in[i * c + j] = x[(r + i) * xs + j];
    }
    const float* __restrict sr = s + r * c;
    const float* __restrict dr = d + r * c;
    float* __restrict t = t_buf.data();
    for (int64_t j = 0; j < nc; ++j) t[j] = gr[j] * in[j] / (dr[j] * sr[j]);
    // The channels whose window holds j are [j - after, j + before]: t between zeros, `after` first.
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < c; ++j) padded[i * span + w.after + j] = t[i * c + j];
    }
    float* __restrict u = u_buf.data();
    window_sums(padded.data(), n, c, w.size, flat.data(), u);
    float* __restrict out = dx + r * c;
    for (int64_t j = 0; j < nc; ++j) out[j] = gr[j] / dr[j] - coef * in[j] * u[j];
  }
}

bool kernel_applies(const torch::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         cpu_bn::row_stride(x).has_value();
}

// y = LRN(x) for x of rows (kernel_applies); with `keep_sd` also s (k + alpha * window mean of
// x^2) and d (s^beta) for the backward, else those two are undefined. All (N, C, H, W) channels-last.
std::array<torch::Tensor, 3> forward_kernel(const torch::Tensor& x, const Window& w, bool keep_sd) {
  const int64_t c = x.size(1), rows = x.numel() / c, xs = *cpu_bn::row_stride(x);
  auto like = [&] { return torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::ChannelsLast)); };
  std::array<torch::Tensor, 3> out{like(), keep_sd ? like() : torch::Tensor(), keep_sd ? like() : torch::Tensor()};
  const float* xp = x.data_ptr<float>();
  float* yp = out[0].data_ptr<float>();
  float* sp = keep_sd ? out[1].data_ptr<float>() : nullptr;
  float* dp = keep_sd ? out[2].data_ptr<float>() : nullptr;
  at::parallel_for(0, rows, kGrain, [&](int64_t r0, int64_t r1) { forward_rows(xp, xs, r0, r1, c, w, yp, sp, dp); });
  return out;
}

struct LrnFunction : torch::autograd::Function<LrnFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               torch::nn::LocalResponseNormOptions options) {
    auto [y, s, d] = forward_kernel(x, window_of(options), /*keep_sd=*/true);
    ctx->save_for_backward({x, s, d});
    ctx->saved_data["size"] = options.size();
    ctx->saved_data["alpha"] = options.alpha();
    ctx->saved_data["beta"] = options.beta();
    return y;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];  // (N, C, H, W) rows
    const torch::Tensor& s = saved[1];  // (N, C, H, W) channels-last: k + alpha * window mean of x^2
    const torch::Tensor& d = saved[2];  // s^beta
    const Window w = window_of(torch::nn::LocalResponseNormOptions(ctx->saved_data["size"].toInt())
                                   .alpha(ctx->saved_data["alpha"].toDouble())
                                   .beta(ctx->saved_data["beta"].toDouble()));
    torch::Tensor g = cpu_bn::as_rows(grads[0]);
    const int64_t c = x.size(1), rows = x.numel() / c, xs = *cpu_bn::row_stride(x), gs = *cpu_bn::row_stride(g);
    torch::Tensor dx = torch::empty(x.sizes(), x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    const float *gp = g.data_ptr<float>(), *xp = x.data_ptr<float>(), *sp = s.data_ptr<float>(),
                *dp = d.data_ptr<float>();
    float* dxp = dx.data_ptr<float>();
    at::parallel_for(0, rows, kGrain,
                     [&](int64_t r0, int64_t r1) { backward_rows(gp, gs, xp, xs, sp, dp, r0, r1, c, w, dxp); });
    return {dx, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor local_response_norm(const torch::Tensor& x, const torch::nn::LocalResponseNormOptions& options) {
  if (!kernel_applies(x) || x.numel() == 0) {
    return torch::nn::functional::local_response_norm(
        x, torch::nn::functional::LocalResponseNormFuncOptions(options.size())
               .alpha(options.alpha())
               .beta(options.beta())
               .k(options.k()));
  }
  if (!torch::GradMode::is_enabled() || !x.requires_grad()) {  // evaluation: y only
    return forward_kernel(x, window_of(options), /*keep_sd=*/false)[0];
  }
  return LrnFunction::apply(x, options);
}

}  // namespace bnx::models
