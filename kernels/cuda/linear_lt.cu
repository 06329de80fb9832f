// nn.Linear on bf16 through cuBLASLt with the epilogue fused into the GEMM: y = x Wᵀ + b
// (CUBLASLT_EPILOGUE_BIAS) and y = GELU(x Wᵀ + b) keeping the pre-activation for backward
// (CUBLASLT_EPILOGUE_GELU_AUX_BIAS, GELU in the tanh form as ours); in backward, the input gradient
// taken on through the GELU below (CUBLASLT_EPILOGUE_DGELU), that layer's bias gradient by our
// bias_grad after it: with the fused DGELU_BGRAD, DiT-B/2's fc2 input gradient took 3.5 ms a call
// on the H100 where its GEMM alone is ~0.8 (benchmarks/results/gpu-2026-11-23-SB-h100-8b36363.json;
// carnot_kernel_bench times both). One pass over the output
// instead of three (GEMM, bias, GELU): for DiT-XL/2's fc1 that is 4·rows·4608 bf16 bytes not moved
// twice more. Row-major y[rows, out] is column-major yᵀ[out, rows] = op(W)ᵀ-as-stored · xᵀ: A is W
// stored [in × out] column-major and transposed, B is x stored [in × rows], and the bias runs
// along yᵀ's rows, as cuBLASLt wants it.
//
// A plan (descriptors and the heuristic's algorithm) is made once per shape, epilogue and operand
// alignment and kept. Where cuBLASLt has no algorithm (odd alignments or sizes) the caller falls
// back to the unfused ops; a failure of a call it did plan throws.
#include <cublasLt.h>

#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <stdexcept>
#include <string>

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("cuBLASLt ") + what + " failed: " + cublasGetStatusName(s) + " (" +
                             cublasGetStatusString(s) + ")");
}

cublasLtHandle_t lt_handle() {
  static const cublasLtHandle_t h = [] {
    cublasLtHandle_t made = nullptr;
    check(cublasLtCreate(&made), "cublasLtCreate");
    return made;
  }();
  return h;
}

// The largest power of two (≤ 256) dividing a pointer's address: what the heuristic may assume.
std::uint32_t alignment(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t k = 256;
  while (k > 2 && a % k != 0) k /= 2;
  return k;
}

struct Plan {
  bool usable = false;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

// The four uses, each a column-major D = op(A) B over W [out, in] (row-major, i.e. [in × out]
// column-major): forward yᵀ[out × rows] = (W as stored)ᵀ xᵀ with the bias (and GELU, keeping its
// input) along D's rows; backward dxᵀ[in × rows] = (W as stored) dyᵀ, then GELU' from the forward's
// pre-activation (and its column sums: the bias gradient of the layer below).
enum class Use { kBias, kBiasGelu, kDgelu, kDgeluBgrad };

struct PlanKey {
  std::int64_t rows, in, out;
  Use use;
  std::uint32_t align_a, align_b, align_c;
  auto tie() const { return std::tie(rows, in, out, use, align_a, align_b, align_c); }
  bool operator<(const PlanKey& o) const { return tie() < o.tie(); }
};

// Builds a plan; false where a descriptor or the heuristic says no.
bool make_plan(Plan& p, const PlanKey& k) {
  auto ok = [](cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; };
  const bool forward = k.use == Use::kBias || k.use == Use::kBiasGelu;
  const cublasOperation_t ta = forward ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  const cublasLtEpilogue_t epilogue = k.use == Use::kBias       ? CUBLASLT_EPILOGUE_BIAS
                                      : k.use == Use::kBiasGelu ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS
                                      : k.use == Use::kDgelu    ? CUBLASLT_EPILOGUE_DGELU
                                                                : CUBLASLT_EPILOGUE_DGELU_BGRAD;
  const cudaDataType_t bias_type = CUDA_R_16BF;
  const std::int64_t m = forward ? k.out : k.in, kk = forward ? k.in : k.out, aux_ld = m;
  if (!ok(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta))) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb))) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue))))
    return false;
  if (k.use != Use::kDgelu &&
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type))))
    return false;
  if (k.use != Use::kBias &&
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof(aux_ld))))
    return false;
  if (!ok(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, std::uint64_t(k.in), std::uint64_t(k.out), k.in)) ||
      !ok(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, std::uint64_t(kk), std::uint64_t(k.rows), kk)) ||
      !ok(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_16BF, std::uint64_t(m), std::uint64_t(k.rows), m)))
    return false;
  cublasLtMatmulPreference_t pref = nullptr;
  if (!ok(cublasLtMatmulPreferenceCreate(&pref))) return false;
  const std::uint64_t bytes = kBlasWorkspaceBytes;
  bool found = ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes,
                                                       sizeof(bytes))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &k.align_a,
                                                       sizeof(k.align_a))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &k.align_b,
                                                       sizeof(k.align_b))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &k.align_c,
                                                       sizeof(k.align_c))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &k.align_c,
                                                       sizeof(k.align_c)));
  if (found) {
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    found = ok(cublasLtMatmulAlgoGetHeuristic(lt_handle(), p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &count)) &&
            count > 0 && result.state == CUBLAS_STATUS_SUCCESS && result.workspaceSize <= kBlasWorkspaceBytes;
    if (found) p.algo = result.algo;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  return found;
}

const Plan& plan_for(const PlanKey& key) {
  static std::map<PlanKey, Plan> plans;
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    p.usable = make_plan(p, key);
    it = plans.emplace(key, p).first;
  }
  return it->second;
}

// Runs a plan: D = A op B with the epilogue's pointers set (bias: the bias or the bias gradient).
void run_plan(const Plan& p, const void* a, const void* b, void* d, const void* bias, const void* aux, const char* what) {
  if (bias) check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), what);
  if (aux) check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)), what);
  const float one = 1.0f, zero = 0.0f;
  check(cublasLtMatmul(lt_handle(), p.desc, &one, a, p.a, b, p.b, &zero, d, p.c, d, p.c, &p.algo, blas_workspace(),
                       kBlasWorkspaceBytes, nullptr),
        what);
}

}  // namespace

bool linear_bf16_lt(std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                    const void* bias, bool gelu, void* pre, void* y) {
  if (rows <= 0 || in <= 0 || out <= 0) return false;
  // cuBLASLt reads the bias and writes the pre-activation with vector accesses.
  if (alignment(bias) < 16 || (gelu && alignment(pre) < 16)) return false;
  const std::uint32_t align_y = gelu ? std::min(alignment(y), alignment(pre)) : alignment(y);
  const Plan& p = plan_for({rows, in, out, gelu ? Use::kBiasGelu : Use::kBias, alignment(w), alignment(x), align_y});
  if (!p.usable) return false;
  run_plan(p, w, x, y, bias, gelu ? pre : nullptr, gelu ? "matmul (bias + GELU epilogue)" : "matmul (bias epilogue)");
  return true;
}

bool linear_backward_input_bf16_lt(std::int64_t rows, std::int64_t in, std::int64_t out, const void* dy, const void* w,
                                   const void* gelu_pre, void* dx, void* dbias_pre, LtBiasGrad bias_grad_by) {
  if (rows <= 0 || in <= 0 || out <= 0 || gelu_pre == nullptr || alignment(gelu_pre) < 16) return false;
  const bool fused = dbias_pre && bias_grad_by == LtBiasGrad::kEpilogue;
  const Use use = fused ? Use::kDgeluBgrad : Use::kDgelu;
  const Plan& p = plan_for({rows, in, out, use, alignment(w), alignment(dy), std::min(alignment(dx), alignment(gelu_pre))});
  if (!p.usable) return false;
  auto* dbias = static_cast<__nv_bfloat16*>(dbias_pre);
  if (!fused) {
    run_plan(p, w, dy, dx, nullptr, gelu_pre, "matmul (GELU' epilogue)");
    if (dbias) bias_grad<__nv_bfloat16>(rows, in, static_cast<const __nv_bfloat16*>(dx), dbias);
    return true;
  }
  // The epilogue writes the bias gradient; ours accumulate, so it lands in scratch and is added.
  static GrowingScratch bias_scratch;
  void* db = bias_scratch.get(std::size_t(in) * 2);
  run_plan(p, w, dy, dx, db, gelu_pre, "matmul (GELU' + bias gradient epilogue)");
  accumulate<__nv_bfloat16>(in, static_cast<const __nv_bfloat16*>(db), dbias);
  return true;
}

}  // namespace carnot::cuda_kernels
