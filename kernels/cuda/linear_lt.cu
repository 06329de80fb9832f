// nn.Linear on bf16 through cuBLASLt with the epilogue fused into the GEMM: y = x Wᵀ + b
// (CUBLASLT_EPILOGUE_BIAS) and y = GELU(x Wᵀ + b) keeping the pre-activation for backward
// (CUBLASLT_EPILOGUE_GELU_AUX_BIAS, GELU in the tanh form as ours). One pass over the output
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
#include <stdexcept>
#include <string>

#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/launch.cuh"

namespace carnot::cuda_kernels {

namespace {

constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;  // NVIDIA's advice for Hopper

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

void* workspace() {
  static GrowingScratch s;
  return s.get(kWorkspaceBytes);
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
  cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;
  cublasLtMatmulAlgo_t algo{};
};

// Builds a plan; false where a descriptor or the heuristic says no.
bool make_plan(Plan& p, std::int64_t rows, std::int64_t in, std::int64_t out, bool gelu, std::uint32_t align_x,
               std::uint32_t align_w, std::uint32_t align_y) {
  auto ok = [](cublasStatus_t s) { return s == CUBLAS_STATUS_SUCCESS; };
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  const cublasLtEpilogue_t epilogue = gelu ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_BIAS;
  const cudaDataType_t bias_type = CUDA_R_16BF;
  const std::int64_t aux_ld = out;
  if (!ok(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta))) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb))) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue))) ||
      !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type))))
    return false;
  if (gelu && !ok(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof(aux_ld))))
    return false;
  if (!ok(cublasLtMatrixLayoutCreate(&p.w, CUDA_R_16BF, std::uint64_t(in), std::uint64_t(out), in)) ||
      !ok(cublasLtMatrixLayoutCreate(&p.x, CUDA_R_16BF, std::uint64_t(in), std::uint64_t(rows), in)) ||
      !ok(cublasLtMatrixLayoutCreate(&p.y, CUDA_R_16BF, std::uint64_t(out), std::uint64_t(rows), out)))
    return false;
  cublasLtMatmulPreference_t pref = nullptr;
  if (!ok(cublasLtMatmulPreferenceCreate(&pref))) return false;
  const std::uint64_t bytes = kWorkspaceBytes;
  bool found = ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes,
                                                       sizeof(bytes))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_w,
                                                       sizeof(align_w))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_x,
                                                       sizeof(align_x))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_y,
                                                       sizeof(align_y))) &&
               ok(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_y,
                                                       sizeof(align_y)));
  if (found) {
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    found = ok(cublasLtMatmulAlgoGetHeuristic(lt_handle(), p.desc, p.w, p.x, p.y, p.y, pref, 1, &result, &count)) &&
            count > 0 && result.state == CUBLAS_STATUS_SUCCESS && result.workspaceSize <= kWorkspaceBytes;
    if (found) p.algo = result.algo;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  return found;
}

const Plan& plan_for(std::int64_t rows, std::int64_t in, std::int64_t out, bool gelu, std::uint32_t align_x,
                     std::uint32_t align_w, std::uint32_t align_y) {
  static std::map<std::array<std::int64_t, 7>, Plan> plans;
  const std::array<std::int64_t, 7> key{rows, in, out, gelu, align_x, align_w, align_y};
  auto it = plans.find(key);
  if (it == plans.end()) {
    Plan p;
    p.usable = make_plan(p, rows, in, out, gelu, align_x, align_w, align_y);
    it = plans.emplace(key, p).first;
  }
  return it->second;
}

}  // namespace

bool linear_bf16_lt(std::int64_t rows, std::int64_t in, std::int64_t out, const void* x, const void* w,
                    const void* bias, bool gelu, void* pre, void* y) {
  if (rows <= 0 || in <= 0 || out <= 0) return false;
  // cuBLASLt reads the bias and writes the pre-activation with vector accesses.
  if (alignment(bias) < 16 || (gelu && alignment(pre) < 16)) return false;
  const std::uint32_t align_y = gelu ? std::min(alignment(y), alignment(pre)) : alignment(y);
  const Plan& p = plan_for(rows, in, out, gelu, alignment(x), alignment(w), align_y);
  if (!p.usable) return false;
  check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), "bias");
  if (gelu) check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &pre, sizeof(pre)),
                  "aux pointer");
  const float one = 1.0f, zero = 0.0f;
  check(cublasLtMatmul(lt_handle(), p.desc, &one, w, p.w, x, p.x, &zero, y, p.y, y, p.y, &p.algo, workspace(),
                       kWorkspaceBytes, nullptr),
        gelu ? "matmul (bias + GELU epilogue)" : "matmul (bias epilogue)");
  return true;
}

}  // namespace carnot::cuda_kernels
