// CPU batch-norm kernels over rows of adjacent channels (see batch_norm_cpu.h). The loops run over
// rows with the channels innermost, so the compiler vectorizes them across channels; on x86-64 GCC
// also builds an AVX2 version of each loop, chosen at load time when the CPU has it. Sums are
// accumulated in float32 over blocks of 32 rows and in float64 across blocks. Chunks of 1024 rows
// run in parallel over the intra-op threads; their sums are added in a fixed order, so results do
// not depend on the number of threads.
#include "models/batch_norm_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <vector>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BNX_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BNX_SIMD_CLONES
#endif

namespace bnx::models::cpu_bn {
namespace {

constexpr int64_t kBlock = 32;    // rows summed in float32 before the float64 accumulation
constexpr int64_t kChunk = 1024;  // rows a thread takes at a time (a multiple of kBlock)

struct Rows {
  const float* data;
  int64_t rows, channels, stride;
};

Rows rows_of(const torch::Tensor& x, const char* what) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == torch::kFloat32, "batch_norm_cpu: ", what,
              " must be a float32 CPU tensor, got ", x.toString());
  auto stride = row_stride(x);
  TORCH_CHECK(stride, "batch_norm_cpu: ", what, " is not rows of adjacent channels (sizes ", x.sizes(), ", strides ",
              x.strides(), ")");
  const int64_t c = x.size(1);
  return {x.data_ptr<float>(), x.numel() / c, c, *stride};
}

const float* channel_values(const torch::Tensor& t, int64_t c, const char* what) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.dim() == 1 && t.size(0) == c &&
                  t.is_contiguous(),
              "batch_norm_cpu: ", what, " must be a contiguous float32 (", c, ",) tensor, got ", t.toString(), " ",
              t.sizes());
  return t.data_ptr<float>();
}

// A tensor of x's sizes whose rows are contiguous: channels-last for images.
torch::Tensor empty_rows(const torch::Tensor& x) {
  std::vector<int64_t> strides(x.dim());
  int64_t step = x.size(1);
  strides[1] = 1;
  for (int64_t d = x.dim() - 1; d >= 2; --d) {
    strides[d] = step;
    step *= x.size(d);
  }
  strides[0] = step;
  return torch::empty_strided(x.sizes(), strides, x.options());
}

// Each block of rows is summed in float32 around its own first row (values of the order of the
// standard deviation, so its sum of squares does not cancel), then turned into its mean and sum of
// squared deviations and added in float64 around the common shift.
BNX_SIMD_CLONES void sums_kernel(Rows x, const float* shift, double* sum, double* sum_sq) {
  const int64_t c = x.channels;
  std::vector<float> block_sum(c), block_sq(c), block_first(c);
  float* __restrict s1 = block_sum.data();
  float* __restrict s2 = block_sq.data();
  float* __restrict first = block_first.data();
  for (int64_t r0 = 0; r0 < x.rows; r0 += kBlock) {
    std::fill(s1, s1 + c, 0.0f);
    std::fill(s2, s2 + c, 0.0f);
    std::copy(x.data + r0 * x.stride, x.data + r0 * x.stride + c, first);
    const int64_t r1 = std::min(x.rows, r0 + kBlock);
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict row = x.data + r * x.stride;
      for (int64_t j = 0; j < c; ++j) {
        const float d = row[j] - first[j];
        s1[j] += d;
        s2[j] += d * d;
      }
    }
    const double n = static_cast<double>(r1 - r0);
    for (int64_t j = 0; j < c; ++j) {
      const double d_mean = s1[j] / n;                                   // block mean - first row
      const double m2 = std::max(static_cast<double>(s2[j]) - s1[j] * d_mean, 0.0);  // squared deviations
      const double e = (static_cast<double>(first[j]) - shift[j]) + d_mean;           // block mean - shift
      sum[j] += n * e;
      sum_sq[j] += m2 + n * e * e;
    }
  }
}

BNX_SIMD_CLONES void normalize_kernel(Rows x, const float* scale, const float* offset, bool relu, float* y) {
  const int64_t c = x.channels;
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* __restrict in = x.data + r * x.stride;
    float* __restrict out = y + r * c;
    if (relu) {
      for (int64_t j = 0; j < c; ++j) out[j] = std::max(in[j] * scale[j] + offset[j], 0.0f);
    } else {
      for (int64_t j = 0; j < c; ++j) out[j] = in[j] * scale[j] + offset[j];
    }
  }
}

// y.data == nullptr: no ReLU (dz = dy).
BNX_SIMD_CLONES void backward_sums_kernel(Rows dy, Rows y, Rows x, const float* mean, double* sum_dz,
                                          double* sum_dz_xmu) {
  const int64_t c = x.channels;
  std::vector<float> block_dz(c), block_dzx(c);
  float* __restrict s1 = block_dz.data();
  float* __restrict s2 = block_dzx.data();
  for (int64_t r0 = 0; r0 < x.rows; r0 += kBlock) {
    std::fill(s1, s1 + c, 0.0f);
    std::fill(s2, s2 + c, 0.0f);
    const int64_t r1 = std::min(x.rows, r0 + kBlock);
    for (int64_t r = r0; r < r1; ++r) {
      const float* __restrict g = dy.data + r * dy.stride;
      const float* __restrict in = x.data + r * x.stride;
      if (y.data) {
        const float* __restrict out = y.data + r * y.stride;
        for (int64_t j = 0; j < c; ++j) {
          const float dz = out[j] > 0.0f ? g[j] : 0.0f;
          s1[j] += dz;
          s2[j] += dz * (in[j] - mean[j]);
        }
      } else {
        for (int64_t j = 0; j < c; ++j) {
          s1[j] += g[j];
          s2[j] += g[j] * (in[j] - mean[j]);
        }
      }
    }
    for (int64_t j = 0; j < c; ++j) {
      sum_dz[j] += s1[j];
      sum_dz_xmu[j] += s2[j];
    }
  }
}

BNX_SIMD_CLONES void backward_input_kernel(Rows dy, Rows y, Rows x, const float* mean, const float* a,
                                           const float* mean_dz, const float* b, float* dx) {
  const int64_t c = x.channels;
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* __restrict g = dy.data + r * dy.stride;
    const float* __restrict in = x.data + r * x.stride;
    float* __restrict out_grad = dx + r * c;
    if (y.data) {
      const float* __restrict out = y.data + r * y.stride;
      for (int64_t j = 0; j < c; ++j) {
        const float dz = out[j] > 0.0f ? g[j] : 0.0f;
        out_grad[j] = a[j] * (dz - mean_dz[j]) + b[j] * (in[j] - mean[j]);
      }
    } else {
      for (int64_t j = 0; j < c; ++j) out_grad[j] = a[j] * (g[j] - mean_dz[j]) + b[j] * (in[j] - mean[j]);
    }
  }
}

// A call over rows split in two parts for speed: when every operand's rows are contiguous and
// short, the first `wide_rows * repeat` rows are processed as `wide_rows` rows of `repeat` * C
// values with the per-channel operands repeated (long vectorized loops instead of a loop of a few
// channels per row), the remaining rows as they are.
struct Split {
  int64_t wide_rows = 0, repeat = 1;

  Split(int64_t rows, int64_t channels, bool contiguous) {
    constexpr int64_t kWide = 128;  // values per wide row
    if (contiguous && channels < kWide) {
      repeat = kWide / channels;
      wide_rows = rows / repeat;
    }
  }
  Rows wide(Rows x) const {
    return x.data ? Rows{x.data, wide_rows, x.channels * repeat, x.channels * repeat} : x;
  }
  Rows rest(Rows x) const {
    const int64_t done = wide_rows * repeat;
    return {x.data ? x.data + done * x.stride : nullptr, x.rows - done, x.channels, x.stride};
  }
  std::vector<float> repeated(const float* values, int64_t c) const {
    std::vector<float> out(c * repeat);
    for (int64_t i = 0; i < repeat; ++i) std::copy(values, values + c, out.begin() + i * c);
    return out;
  }
  // Adds the wide part's two sums per value ([first (repeat * C), second (repeat * C)]) into
  // `sums` ([first (C), second (C)]).
  void fold(const std::vector<double>& wide_sums, int64_t c, double* sums) const {
    for (int64_t half = 0; half < 2; ++half) {
      for (int64_t i = 0; i < repeat; ++i) {
        for (int64_t j = 0; j < c; ++j) sums[half * c + j] += wide_sums[(half * repeat + i) * c + j];
      }
    }
  }
};

// Rows [begin, end) of x (x itself when it has no data: the absent ReLU output).
Rows part(Rows x, int64_t begin, int64_t end) {
  return {x.data ? x.data + begin * x.stride : nullptr, end - begin, x.channels, x.stride};
}

// Runs kernel(begin, end) over chunks of kChunk of `rows` rows, in parallel over intra-op threads.
template <class Kernel>
void for_chunks(int64_t rows, const Kernel& kernel) {
  const int64_t chunks = (rows + kChunk - 1) / kChunk;
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) kernel(i * kChunk, std::min(rows, (i + 1) * kChunk));
  });
}

// Runs kernel(begin, end, partial) over chunks as for_chunks, each writing `n` sums into its own
// zeroed `partial`, then adds them into `out` in chunk order: the result does not depend on the
// number of threads.
template <class Kernel>
void sum_chunks(int64_t rows, int64_t n, double* out, const Kernel& kernel) {
  const int64_t chunks = (rows + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks * n, 0.0);
  for_chunks(rows, [&](int64_t begin, int64_t end) { kernel(begin, end, partial.data() + begin / kChunk * n); });
  for (int64_t i = 0; i < chunks; ++i) {
    for (int64_t j = 0; j < n; ++j) out[j] += partial[i * n + j];
  }
}

bool contiguous_rows(std::initializer_list<Rows> operands) {
  for (const Rows& r : operands) {
    if (r.data && r.stride != r.channels) return false;
  }
  return true;
}

// Backward's operands; y.data is null without ReLU.
struct Operands {
  Rows dy, y, x;
};
Operands backward_operands(const torch::Tensor& dy, const torch::Tensor& y, const torch::Tensor& x) {
  for (const auto& [t, what] : {std::pair{&dy, "dy"}, std::pair{&y, "y"}}) {
    TORCH_CHECK(!t->defined() || t->sizes() == x.sizes(), "batch_norm_cpu: ", what, " has sizes ", t->sizes(),
                ", x has ", x.sizes());
  }
  return {rows_of(dy, "dy"), y.defined() ? rows_of(y, "y") : Rows{nullptr, 0, 0, 0}, rows_of(x, "x")};
}

}  // namespace

namespace {
std::atomic<bool> kernels_enabled{true};
}  // namespace

bool enabled() { return kernels_enabled.load(std::memory_order_relaxed); }
void set_enabled(bool enabled) { kernels_enabled.store(enabled, std::memory_order_relaxed); }

std::optional<int64_t> row_stride(const torch::Tensor& x) {
  if (x.dim() < 2) return std::nullopt;
  const int64_t c = x.size(1);
  if (x.numel() == 0) return c;
  if (c > 1 && x.stride(1) != 1) return std::nullopt;
  // The row dims (0, 2, 3, ...) must form one uniformly strided sequence, innermost last.
  std::optional<int64_t> stride;
  int64_t expected = 0;
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    if (d == 1 || x.size(d) == 1) continue;
    if (!stride) {
      stride = x.stride(d);
      expected = *stride;
    }
    if (x.stride(d) != expected) return std::nullopt;
    expected *= x.size(d);
  }
  if (!stride) return c;  // a single row
  if (*stride < c) return std::nullopt;
  return stride;
}

torch::Tensor as_rows(const torch::Tensor& x) {
  if (row_stride(x)) return x;
  torch::Tensor rows = empty_rows(x);
  rows.copy_(x);
  return rows;
}

torch::Tensor shifted_sums(const torch::Tensor& x, const torch::Tensor& shift) {
  Rows rx = rows_of(x, "x");
  const float* k = channel_values(shift, rx.channels, "shift");
  const int64_t c = rx.channels;
  torch::Tensor sums = torch::zeros({2 * c}, torch::kFloat64);
  double* s = sums.data_ptr<double>();
  Split split(rx.rows, c, contiguous_rows({rx}));
  // Chunk sums: [sum (n / 2), sum of squares (n / 2)] of the rows' width.
  auto sums_over = [](Rows rows, const float* shift, double* out) {
    const int64_t w = rows.channels;
    sum_chunks(rows.rows, 2 * w, out, [&](int64_t begin, int64_t end, double* partial) {
      sums_kernel(part(rows, begin, end), shift, partial, partial + w);
    });
  };
  if (split.wide_rows > 0) {
    std::vector<double> wide(2 * c * split.repeat);
    sums_over(split.wide(rx), split.repeated(k, c).data(), wide.data());
    split.fold(wide, c, s);
  }
  sums_over(split.rest(rx), k, s);
  return sums;
}

torch::Tensor normalize(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& offset, bool relu) {
  Rows rx = rows_of(x, "x");
  const float* s = channel_values(scale, rx.channels, "scale");
  const float* o = channel_values(offset, rx.channels, "offset");
  const int64_t c = rx.channels;
  torch::Tensor y = empty_rows(x);
  float* out = y.data_ptr<float>();
  Split split(rx.rows, c, contiguous_rows({rx}));
  auto normalize_over = [relu](Rows rows, const float* scale_values, const float* offset_values, float* y_rows) {
    for_chunks(rows.rows, [&](int64_t begin, int64_t end) {
      normalize_kernel(part(rows, begin, end), scale_values, offset_values, relu, y_rows + begin * rows.channels);
    });
  };
  if (split.wide_rows > 0) {
    normalize_over(split.wide(rx), split.repeated(s, c).data(), split.repeated(o, c).data(), out);
  }
  normalize_over(split.rest(rx), s, o, out + split.wide_rows * split.repeat * c);
  return y;
}

torch::Tensor backward_sums(const torch::Tensor& dy, const torch::Tensor& y, const torch::Tensor& x,
                            const torch::Tensor& mean) {
  const auto [rdy, ry, rx] = backward_operands(dy, y, x);
  const int64_t c = rx.channels;
  const float* m = channel_values(mean, c, "mean");
  torch::Tensor sums = torch::zeros({2 * c}, torch::kFloat64);
  double* s = sums.data_ptr<double>();
  Split split(rx.rows, c, contiguous_rows({rx, rdy, ry}));
  auto sums_over = [](Rows g, Rows out, Rows in, const float* mean_values, double* result) {
    const int64_t w = in.channels;
    sum_chunks(in.rows, 2 * w, result, [&](int64_t begin, int64_t end, double* partial) {
      backward_sums_kernel(part(g, begin, end), part(out, begin, end), part(in, begin, end), mean_values, partial,
                           partial + w);
    });
  };
  if (split.wide_rows > 0) {
    std::vector<double> wide(2 * c * split.repeat);
    sums_over(split.wide(rdy), split.wide(ry), split.wide(rx), split.repeated(m, c).data(), wide.data());
    split.fold(wide, c, s);
  }
  sums_over(split.rest(rdy), split.rest(ry), split.rest(rx), m, s);
  return sums;
}

torch::Tensor backward_input(const torch::Tensor& dy, const torch::Tensor& y, const torch::Tensor& x,
                             const torch::Tensor& mean, const torch::Tensor& a, const torch::Tensor& mean_dz,
                             const torch::Tensor& b) {
  const auto [rdy, ry, rx] = backward_operands(dy, y, x);
  const int64_t c = rx.channels;
  const float* m = channel_values(mean, c, "mean");
  const float* pa = channel_values(a, c, "a");
  const float* pm = channel_values(mean_dz, c, "mean_dz");
  const float* pb = channel_values(b, c, "b");
  torch::Tensor dx = empty_rows(x);
  float* out = dx.data_ptr<float>();
  Split split(rx.rows, c, contiguous_rows({rx, rdy, ry}));
  auto input_over = [](Rows g, Rows y_rows, Rows in, const float* mean_values, const float* a_values,
                       const float* mean_dz_values, const float* b_values, float* dx_rows) {
    for_chunks(in.rows, [&](int64_t begin, int64_t end) {
      backward_input_kernel(part(g, begin, end), part(y_rows, begin, end), part(in, begin, end), mean_values,
                            a_values, mean_dz_values, b_values, dx_rows + begin * in.channels);
    });
  };
  if (split.wide_rows > 0) {
    input_over(split.wide(rdy), split.wide(ry), split.wide(rx), split.repeated(m, c).data(),
               split.repeated(pa, c).data(), split.repeated(pm, c).data(), split.repeated(pb, c).data(), out);
  }
  input_over(split.rest(rdy), split.rest(ry), split.rest(rx), m, pa, pm, pb, out + split.wide_rows * split.repeat * c);
  return dx;
}

}  // namespace bnx::models::cpu_bn
