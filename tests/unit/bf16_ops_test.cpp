// bfloat16 in the CPU op table (kernels/bf16_widening.h): each op computes in float32 from bf16
// inputs and rounds each output once, so against the float64 op on the same (bf16-representable)
// inputs it is off by about bf16's half-ulp, 2⁻⁹: ‖bf16 − f64‖/‖f64‖ ≤ 1e-2, the bound the CUDA
// twins use too. Outputs that interleave (adaLN's dshift and dscale in one [B, 6C] tensor) and
// strided views keep what they do not write. Fresh random inputs; the seed is logged.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "kernels/bf16.h"
#include "kernels/ops.h"
#include "tests/unit/test_support.h"

namespace carnot {
namespace {

// One op's arrays: `sizes` in the op's dtype, `stats` in float32 for bf16 (float64 otherwise),
// and the arrays (by index into sizes) whose values are compared.
struct OpCase {
  const char* name;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> stats;
  std::vector<int> outputs;
  std::function<void(Ops&, DType, const std::vector<void*>&, const std::vector<void*>&)> run;
};

float bf16_round(double x) { return bf16_to_float(float_to_bf16(float(x))); }

void check(const OpCase& op, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<std::vector<std::uint16_t>> low;
  std::vector<std::vector<double>> high;
  for (std::int64_t n : op.sizes) {
    low.emplace_back(std::size_t(n));
    high.emplace_back(std::size_t(n));
    for (std::size_t i = 0; i < std::size_t(n); ++i) {
      low.back()[i] = float_to_bf16(float(normal(rng)));
      high.back()[i] = bf16_to_float(low.back()[i]);
    }
  }
  std::vector<std::vector<float>> low_stats;
  std::vector<std::vector<double>> high_stats;
  for (std::int64_t n : op.stats) low_stats.emplace_back(std::size_t(n)), high_stats.emplace_back(std::size_t(n));
  std::vector<void*> lp, hp, ls, hs;
  for (std::size_t i = 0; i < low.size(); ++i) lp.push_back(low[i].data()), hp.push_back(high[i].data());
  for (std::size_t i = 0; i < low_stats.size(); ++i) ls.push_back(low_stats[i].data()), hs.push_back(high_stats[i].data());
  op.run(cpu_ops(), DType::BF16, lp, ls);
  op.run(cpu_ops(), DType::F64, hp, hs);
  for (int o : op.outputs) {
    std::vector<double> got(low[std::size_t(o)].size());
    for (std::size_t i = 0; i < got.size(); ++i) got[i] = bf16_to_float(low[std::size_t(o)][i]);
    const double e = test::rel_error(got, high[std::size_t(o)], got.size());
    EXPECT_LT(e, 1e-2) << op.name << " output #" << o;
    std::printf("%-26s output #%d: ‖bf16 − f64‖/‖f64‖ = %.2e\n", op.name, o, e);
  }
}

TEST(Bf16Ops, EachOpIsFloat32ArithmeticRoundedOnce) {
  std::mt19937_64 rng(test::fresh_seed("Bf16Ops.EachOpIsFloat32ArithmeticRoundedOnce"));
  const std::int64_t B = 3, N = 5, C = 8, H = 2, D = 4;
  const std::vector<OpCase> cases = {
      {"gemm, C rows apart, beta 1", {7 * 9, 9 * 11, 7 * 13}, {}, {2},
       [](Ops& o, DType dt, auto& a, auto&) { o.gemm(dt, false, false, 7, 11, 9, 0.5, a[0], 9, a[1], 11, 1.0, a[2], 13); }},
      {"gemm, both transposed", {9 * 7, 11 * 9, 7 * 11}, {}, {2},
       [](Ops& o, DType dt, auto& a, auto&) { o.gemm(dt, true, true, 7, 11, 9, 1.0, a[0], 7, a[1], 9, 0.0, a[2], 11); }},
      {"layer_norm_forward", {B * N * C, B * N * C}, {B * N, B * N}, {1},
       [&](Ops& o, DType dt, auto& a, auto& s) { o.layer_norm_forward(dt, B * N, C, 1e-6, a[0], a[1], s[0], s[1]); }},
      {"layer_norm_backward", {B * N * C, B * N * C, B * N * C, B * N * C}, {B * N, B * N}, {3},
       [&](Ops& o, DType dt, auto& a, auto& s) {
         o.layer_norm_forward(dt, B * N, C, 1e-6, a[0], a[1], s[0], s[1]);
         o.layer_norm_backward(dt, B * N, C, a[0], s[0], s[1], a[2], a[3]);
       }},
      {"modulate_backward", {B * N * C, B * 6 * C, B * N * C, B * N * C, B * 6 * C}, {}, {3, 4},
       [&](Ops& o, DType dt, auto& a, auto&) {
         const auto* mod = static_cast<const char*>(a[1]);
         auto* dmod = static_cast<char*>(a[4]);
         const std::size_t z = dt == DType::BF16 ? 2 : 8;  // dshift, dscale interleave in one [B, 6C]
         o.modulate_backward(dt, B, N, C, a[0], mod + C * z, 6 * C, a[2], a[3], dmod, dmod + C * z);
       }},
      {"layer_norm_modulate_forward", {B * N * C, B * 6 * C, B * N * C}, {B * N, B * N}, {2},
       [&](Ops& o, DType dt, auto& a, auto& s) {
         const std::size_t z = dt == DType::BF16 ? 2 : 8;
         o.layer_norm_modulate_forward(dt, B, N, C, 1e-6, a[0], a[1], static_cast<char*>(a[1]) + C * z, 6 * C, a[2],
                                       s[0], s[1]);
       }},
      {"layer_norm_modulate_backward, dx accumulated", {B * N * C, B * 6 * C, B * N * C, B * N * C, B * N * C, B * 6 * C},
       {B * N, B * N}, {4, 5},
       [&](Ops& o, DType dt, auto& a, auto& s) {
         const std::size_t z = dt == DType::BF16 ? 2 : 8;
         const auto* mod = static_cast<const char*>(a[1]);
         auto* dmod = static_cast<char*>(a[5]);
         o.layer_norm_modulate_forward(dt, B, N, C, 1e-6, a[0], mod, mod + C * z, 6 * C, a[2], s[0], s[1]);
         o.layer_norm_modulate_backward(dt, B, N, C, a[0], s[0], s[1], mod + C * z, 6 * C, a[3], a[4], dmod,
                                        dmod + C * z, true);
       }},
      {"gated_residual_forward", {B * N * C, B * N * C, B * 6 * C, B * N * C}, {}, {3},
       [&](Ops& o, DType dt, auto& a, auto&) {
         const std::size_t z = dt == DType::BF16 ? 2 : 8;
         o.gated_residual_forward(dt, B, N, C, a[0], a[1], static_cast<char*>(a[2]) + 2 * C * z, 6 * C, a[3]);
       }},
      {"gated_residual_backward", {B * N * C, B * 6 * C, B * N * C, B * N * C, B * 6 * C}, {}, {3, 4},
       [&](Ops& o, DType dt, auto& a, auto&) {
         const std::size_t z = dt == DType::BF16 ? 2 : 8;
         o.gated_residual_backward(dt, B, N, C, a[0], static_cast<char*>(a[1]) + 2 * C * z, 6 * C, a[2], a[3],
                                   static_cast<char*>(a[4]) + 2 * C * z);
       }},
      {"attention_forward", {B * N * 3 * H * D, attention_workspace_elements(N), B * N * H * D}, {B * H * N}, {2},
       [&](Ops& o, DType dt, auto& a, auto& s) { o.attention_forward(dt, B, N, H, D, a[0], a[1], s[0], a[2]); }},
      {"attention_backward",
       {B * N * 3 * H * D, attention_workspace_elements(N), B * N * H * D, B * N * H * D, B * N * 3 * H * D},
       {B * H * N}, {4},
       [&](Ops& o, DType dt, auto& a, auto& s) {
         o.attention_forward(dt, B, N, H, D, a[0], a[1], s[0], a[2]);
         o.attention_backward(dt, B, N, H, D, a[0], s[0], a[2], a[3], a[1], a[4]);
       }},
      {"group_norm_backward", {2 * 8 * 9, 8, 8, 2 * 8 * 9, 2 * 8 * 9, 2 * 8 * 9, 8, 8}, {2 * 4, 2 * 4}, {5, 6, 7},
       [](Ops& o, DType dt, auto& a, auto& s) {
         o.group_norm_forward(dt, 2, 8, 9, 4, 1e-5, a[0], a[1], a[2], a[3], s[0], s[1]);
         o.group_norm_backward(dt, 2, 8, 9, 4, a[0], a[1], s[0], s[1], a[4], a[5], a[6], a[7]);
       }},
      {"conv2d_backward", {2 * 3 * 36, 4 * 3 * 9, 2 * 4 * 36, 4 * 3 * 9 * 6 * 6 * 2, 2 * 3 * 36, 4 * 3 * 9, 4}, {},
       {4, 5, 6},
       [](Ops& o, DType dt, auto& a, auto&) {
         Conv2dShape g;
         g.batch = 2, g.cin = 3, g.cout = 4, g.h = 6, g.w = 6, g.k = 3, g.pad = 1;
         o.conv2d_backward(dt, g, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
       }},
      {"embedding_backward", {4 * C, 6 * C}, {}, {1},
       [&](Ops& o, DType dt, auto& a, auto&) {
         const std::int64_t ids[4] = {5, 0, 5, 2};
         o.embedding_backward(dt, 4, C, ids, a[0], a[1], 6);
       }},
      {"copy_blocks, accumulating", {5 * 6, 5 * 9}, {}, {1},
       [](Ops& o, DType dt, auto& a, auto&) { o.copy_blocks(dt, 5, 4, a[0], 6, a[1], 9, true); }},
      {"mse_loss (dpred)", {6 * 7, 6 * 7, 6 * 7}, {}, {2},
       [](Ops& o, DType dt, auto& a, auto&) { (void)o.mse_loss(dt, 6, 7, a[0], a[1], nullptr, 0.25, a[2]); }},
      {"linear_forward, bias + GELU", {7 * 9, 11 * 9, 11, 7 * 11, 7 * 11}, {}, {3, 4},
       [](Ops& o, DType dt, auto& a, auto&) {
         o.linear_forward(dt, 7, 9, 11, a[0], a[1], a[2], Epilogue::kBiasGelu, a[3], a[4]);
       }},
      {"linear_backward_input through GELU", {7 * 11, 11 * 9, 7 * 9, 7 * 9, 9}, {}, {3, 4},
       [](Ops& o, DType dt, auto& a, auto&) {
         o.linear_backward_input(dt, 7, 9, 11, a[0], a[1], a[2], a[3], a[4]);
       }},
      {"gelu_backward in place", {33, 33}, {}, {1},
       [](Ops& o, DType dt, auto& a, auto&) { o.gelu_backward(dt, 33, a[0], a[1], a[1]); }},
  };
  for (const OpCase& op : cases) check(op, rng);
}

TEST(Bf16Ops, ReductionsAndConversions) {
  std::mt19937_64 rng(test::fresh_seed("Bf16Ops.ReductionsAndConversions"));
  const std::vector<double> x = test::randn(rng, 1001, 3.0);
  std::vector<std::uint16_t> low(x.size());
  std::vector<float> wide(x.size());
  cpu_ops().convert(std::int64_t(x.size()), DType::F64, x.data(), DType::BF16, low.data(), false);
  cpu_ops().convert(std::int64_t(x.size()), DType::BF16, low.data(), DType::F32, wide.data(), false);
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(low[i], float_to_bf16(float(x[i]))) << i;  // one rounding: float64 → float32 → bf16
    EXPECT_EQ(wide[i], bf16_round(x[i])) << i;            // widening is exact
    sum += double(wide[i]) * wide[i];
  }
  EXPECT_EQ(cpu_ops().sum_squares(DType::BF16, std::int64_t(x.size()), low.data()), sum);
  // y += x into bf16 rounds the float32 sum once.
  std::vector<std::uint16_t> acc(low);
  cpu_ops().convert(std::int64_t(x.size()), DType::F32, wide.data(), DType::BF16, acc.data(), true);
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(acc[i], float_to_bf16(2 * wide[i]));
  // An odd count of zeros: every element, and nothing past it.
  std::vector<std::uint16_t> z(low);
  cpu_ops().fill_zero(DType::BF16, 7, z.data());
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(z[i], 0u);
  EXPECT_EQ(z[7], low[7]);
}

}  // namespace
}  // namespace carnot
