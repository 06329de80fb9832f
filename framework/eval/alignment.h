// Representation alignment between two models' features of the same n inputs, from their Gram
// matrices (n × n inner products of each model's feature rows), with the features L2-normalised:
//  - linear CKA (Kornblith et al. 2019): ⟨HKH, HLH⟩ / (‖HKH‖ ‖HLH‖), H = I − 11ᵀ/n; invariant to
//    rotations and isotropic scaling of either feature space, 1 for identical geometry.
//  - mutual k-nearest neighbours (Huh et al. 2024, "The Platonic Representation Hypothesis"): the
//    mean over inputs of |kNN_A(i) ∩ kNN_B(i)| / k, neighbours by cosine similarity (self excluded).
//  - a permutation null: both measures with B's inputs shuffled against A's, averaged over
//    permutations (mutual kNN's null mean is k/(n − 1)).
#pragma once
#include <cstdint>
#include <vector>

namespace carnot {

// A symmetric n × n matrix, row-major, in double.
struct Gram {
  std::int64_t n = 0;
  std::vector<double> k;
  double at(std::int64_t i, std::int64_t j) const { return k[std::size_t(i * n + j)]; }
};

// The Gram matrix of rows x[n, dim] (float features), in float64 sums; with normalise, of the rows
// scaled to unit length (a zero row stays zero).
Gram gram_of_rows(const float* x, std::int64_t n, std::int64_t dim, bool normalise);

double linear_cka(const Gram& a, const Gram& b);
double mutual_knn(const Gram& a, const Gram& b, int k);
// B's rows and columns reordered: result(i, j) = b(perm[i], perm[j]).
Gram permuted(const Gram& b, const std::vector<std::int64_t>& perm);

struct Alignment {
  double cka = 0, mknn = 0;
  double cka_null = 0, mknn_null = 0;        // means over the permutations
  double cka_null_sd = 0, mknn_null_sd = 0;  // their standard deviations
};
// Both measures and their null over `permutations` random reorderings drawn from seed.
Alignment align(const Gram& a, const Gram& b, int k, int permutations, std::uint64_t seed);

}  // namespace carnot
