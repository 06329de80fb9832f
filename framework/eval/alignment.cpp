#include "framework/eval/alignment.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "framework/core/error.h"
#include "kernels/ops.h"

namespace carnot {

Gram gram_of_rows(const float* x, std::int64_t n, std::int64_t dim, bool normalise) {
  Gram g{n, std::vector<double>(static_cast<std::size_t>(n * n), 0.0)};
  // G += X_c X_cᵀ over chunks of feature columns, each widened to float64 (BLAS dgemm: n²·dim
  // multiply-adds, and memory for n × kChunk doubles whatever the feature width).
  constexpr std::int64_t kChunk = 2048;
  std::vector<double> xc(static_cast<std::size_t>(n * std::min(dim, kChunk)));
  for (std::int64_t c0 = 0; c0 < dim; c0 += kChunk) {
    const std::int64_t w = std::min(kChunk, dim - c0);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < w; ++c) xc[std::size_t(i * w + c)] = double(x[i * dim + c0 + c]);
    cpu_ops().gemm(DType::F64, false, true, n, n, w, 1.0, xc.data(), w, xc.data(), w, 1.0, g.k.data(), n);
  }
  if (normalise) {
    std::vector<double> inv(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) inv[std::size_t(i)] = g.at(i, i) > 0 ? 1 / std::sqrt(g.at(i, i)) : 0;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) g.k[std::size_t(i * n + j)] *= inv[std::size_t(i)] * inv[std::size_t(j)];
  }
  return g;
}

namespace {

// H K H: subtract row and column means, add back the grand mean.
std::vector<double> centred(const Gram& g) {
  const std::int64_t n = g.n;
  std::vector<double> row(static_cast<std::size_t>(n), 0.0);
  double all = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) row[std::size_t(i)] += g.at(i, j);
    all += row[std::size_t(i)];
    row[std::size_t(i)] /= double(n);
  }
  all /= double(n) * double(n);
  std::vector<double> c(g.k.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      c[std::size_t(i * n + j)] = g.at(i, j) - row[std::size_t(i)] - row[std::size_t(j)] + all;
  return c;
}

// The k nearest neighbours of every row (largest inner products, self excluded), each list sorted.
std::vector<std::vector<std::int64_t>> neighbours(const Gram& g, int k) {
  const std::int64_t n = g.n;
  std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < n; ++i) {
    idx.clear();
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) idx.push_back(j);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](std::int64_t a, std::int64_t b) {
      const double ga = g.at(i, a), gb = g.at(i, b);
      return ga != gb ? ga > gb : a < b;  // ties broken by index, so the result is deterministic
    });
    out[std::size_t(i)].assign(idx.begin(), idx.begin() + k);
    std::sort(out[std::size_t(i)].begin(), out[std::size_t(i)].end());
  }
  return out;
}

}  // namespace

double linear_cka(const Gram& a, const Gram& b) {
  CARNOT_CHECK(a.n == b.n && a.n >= 2, "CKA of Gram matrices of ", a.n, " and ", b.n, " inputs");
  const std::vector<double> ca = centred(a), cb = centred(b);
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < ca.size(); ++i) ab += ca[i] * cb[i], aa += ca[i] * ca[i], bb += cb[i] * cb[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

double mutual_knn(const Gram& a, const Gram& b, int k) {
  CARNOT_CHECK(a.n == b.n, "mutual kNN of Gram matrices of ", a.n, " and ", b.n, " inputs");
  CARNOT_CHECK(k >= 1 && k < a.n, "mutual kNN needs 1 ≤ k < n, got k = ", k, " for n = ", a.n);
  const auto na = neighbours(a, k), nb = neighbours(b, k);
  double total = 0;
  std::vector<std::int64_t> both;
  for (std::size_t i = 0; i < na.size(); ++i) {
    both.clear();
    std::set_intersection(na[i].begin(), na[i].end(), nb[i].begin(), nb[i].end(), std::back_inserter(both));
    total += double(both.size()) / k;
  }
  return total / double(na.size());
}

Gram permuted(const Gram& b, const std::vector<std::int64_t>& perm) {
  Gram out{b.n, std::vector<double>(b.k.size())};
  for (std::int64_t i = 0; i < b.n; ++i)
    for (std::int64_t j = 0; j < b.n; ++j) out.k[std::size_t(i * b.n + j)] = b.at(perm[std::size_t(i)], perm[std::size_t(j)]);
  return out;
}

Alignment align(const Gram& a, const Gram& b, int k, int permutations, std::uint64_t seed) {
  Alignment r;
  r.cka = linear_cka(a, b);
  r.mknn = mutual_knn(a, b, k);
  std::mt19937_64 rng(seed);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(a.n));
  double c1 = 0, c2 = 0, m1 = 0, m2 = 0;
  for (int p = 0; p < permutations; ++p) {
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const Gram shuffled = permuted(b, perm);
    const double c = linear_cka(a, shuffled), m = mutual_knn(a, shuffled, k);
    c1 += c, c2 += c * c, m1 += m, m2 += m * m;
  }
  if (permutations > 0) {
    const double P = permutations;
    r.cka_null = c1 / P, r.mknn_null = m1 / P;
    r.cka_null_sd = std::sqrt(std::max(0.0, c2 / P - r.cka_null * r.cka_null));
    r.mknn_null_sd = std::sqrt(std::max(0.0, m2 / P - r.mknn_null * r.mknn_null));
  }
  return r;
}

}  // namespace carnot
