#include "framework/debug/guarded_device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "framework/core/device_memory.h"
#include "framework/core/error.h"

namespace carnot {

// One reserved range of address space, handed out from the bottom and never reused; [base, used)
// is opened and closed as a whole (two system calls per op, whatever the number of buffers).
class GuardedMemory final : public DeviceMemory {
 public:
  GuardedMemory() {
    void* p = ::mmap(nullptr, kReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      throw Error(str_cat("guarded device: cannot reserve its address space: ", std::strerror(errno)));
    base_ = static_cast<char*>(p);
    page_ = std::size_t(::sysconf(_SC_PAGESIZE));
  }
  ~GuardedMemory() override { ::munmap(base_, kReserve); }

  void* allocate(std::size_t bytes) override {
    const std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t size = round_up(bytes);
    if (used_ + size > kReserve)
      throw Error(str_cat("guarded device: out of its ", kReserve >> 30, " GiB of address space"));
    char* p = base_ + used_;
    used_ += size;
    ++allocations_;
    if (open_ > 0) protect(p, size, PROT_READ | PROT_WRITE);
    return p;  // fresh anonymous pages read as zero
  }
  void release(void* p, std::size_t bytes) override {
    const std::lock_guard<std::mutex> lock(mutex_);
    ::madvise(p, round_up(bytes), MADV_DONTNEED);  // the pages go back; the addresses are not reused
  }
  void copy(void* dst, bool, const void* src, bool, std::size_t bytes) override {
    open();
    std::memmove(dst, src, bytes);
    close();
  }

  std::int64_t allocations() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return allocations_;
  }

  void open() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (open_++ == 0 && used_ > 0) protect(base_, used_, PROT_READ | PROT_WRITE);
  }
  void close() {
    const std::lock_guard<std::mutex> lock(mutex_);
    CARNOT_CHECK(open_ > 0, "guarded device: closed more often than opened");
    if (--open_ == 0 && used_ > 0) protect(base_, used_, PROT_NONE);
  }

 private:
  static constexpr std::size_t kReserve = std::size_t(64) << 30;
  std::size_t round_up(std::size_t bytes) const {
    return (std::max<std::size_t>(bytes, 1) + page_ - 1) / page_ * page_;
  }
  static void protect(char* p, std::size_t size, int prot) {
    if (::mprotect(p, size, prot) != 0) throw Error(str_cat("guarded device: mprotect failed: ", std::strerror(errno)));
  }

  std::mutex mutex_;
  char* base_ = nullptr;
  std::size_t page_ = 4096, used_ = 0;
  int open_ = 0;
  std::int64_t allocations_ = 0;
};

namespace {

// Opens the device memory for its scope.
class Access {
 public:
  explicit Access(GuardedMemory& memory) : memory_(memory) { memory_.open(); }
  ~Access() { memory_.close(); }
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;

 private:
  GuardedMemory& memory_;
};

class GuardedOps final : public Ops {
 public:
  explicit GuardedOps(GuardedMemory& memory) : memory_(memory), cpu_(cpu_ops()) {}
  bool on_gpu() const override { return true; }
  void gemm(DType dt, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
            const void* a, std::int64_t lda, const void* b, std::int64_t ldb, double beta, void* c,
            std::int64_t ldc) override {
    const Access open(memory_);
    cpu_.gemm(dt, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void add_bias(DType dt, std::int64_t rows, std::int64_t cols, const void* bias, void* y) override {
    const Access open(memory_);
    cpu_.add_bias(dt, rows, cols, bias, y);
  }
  void bias_grad(DType dt, std::int64_t rows, std::int64_t cols, const void* dy, void* dbias) override {
    const Access open(memory_);
    cpu_.bias_grad(dt, rows, cols, dy, dbias);
  }
  void silu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Access open(memory_);
    cpu_.silu_forward(dt, n, x, y);
  }
  void silu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Access open(memory_);
    cpu_.silu_backward(dt, n, x, dy, dx);
  }
  void relu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Access open(memory_);
    cpu_.relu_forward(dt, n, x, y);
  }
  void relu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Access open(memory_);
    cpu_.relu_backward(dt, n, x, dy, dx);
  }
  void gelu_forward(DType dt, std::int64_t n, const void* x, void* y) override {
    const Access open(memory_);
    cpu_.gelu_forward(dt, n, x, y);
  }
  void gelu_backward(DType dt, std::int64_t n, const void* x, const void* dy, void* dx) override {
    const Access open(memory_);
    cpu_.gelu_backward(dt, n, x, dy, dx);
  }
  void layer_norm_forward(DType dt, std::int64_t rows, std::int64_t cols, double eps, const void* x, void* y,
                          void* mean, void* rstd) override {
    const Access open(memory_);
    cpu_.layer_norm_forward(dt, rows, cols, eps, x, y, mean, rstd);
  }
  void layer_norm_backward(DType dt, std::int64_t rows, std::int64_t cols, const void* x, const void* mean,
                           const void* rstd, const void* dy, void* dx) override {
    const Access open(memory_);
    cpu_.layer_norm_backward(dt, rows, cols, x, mean, rstd, dy, dx);
  }
  void layer_norm_modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, double eps,
                                   const void* x, const void* shift, const void* scale, std::int64_t mod_stride,
                                   void* y, void* mean, void* rstd) override {
    const Access open(memory_);
    cpu_.layer_norm_modulate_forward(dt, batch, tokens, cols, eps, x, shift, scale, mod_stride, y, mean, rstd);
  }
  void layer_norm_modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols,
                                    const void* x, const void* mean, const void* rstd, const void* scale,
                                    std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                                    void* dscale) override {
    const Access open(memory_);
    cpu_.layer_norm_modulate_backward(dt, batch, tokens, cols, x, mean, rstd, scale, mod_stride, dy, dx, dshift,
                                      dscale);
  }
  void modulate_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                        const void* shift, const void* scale, std::int64_t mod_stride, void* y) override {
    const Access open(memory_);
    cpu_.modulate_forward(dt, batch, tokens, cols, x, shift, scale, mod_stride, y);
  }
  void modulate_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* x,
                         const void* scale, std::int64_t mod_stride, const void* dy, void* dx, void* dshift,
                         void* dscale) override {
    const Access open(memory_);
    cpu_.modulate_backward(dt, batch, tokens, cols, x, scale, mod_stride, dy, dx, dshift, dscale);
  }
  void gated_residual_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                              const void* gate, std::int64_t mod_stride, void* y) override {
    const Access open(memory_);
    cpu_.gated_residual_forward(dt, batch, tokens, cols, h, gate, mod_stride, y);
  }
  void gated_residual_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t cols, const void* h,
                               const void* gate, std::int64_t mod_stride, const void* dy, void* dh,
                               void* dgate) override {
    const Access open(memory_);
    cpu_.gated_residual_backward(dt, batch, tokens, cols, h, gate, mod_stride, dy, dh, dgate);
  }
  void group_norm_forward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                          double eps, const void* x, const void* gamma, const void* beta, void* y, void* mean,
                          void* rstd) override {
    const Access open(memory_);
    cpu_.group_norm_forward(dt, batch, channels, hw, groups, eps, x, gamma, beta, y, mean, rstd);
  }
  void group_norm_backward(DType dt, std::int64_t batch, std::int64_t channels, std::int64_t hw, std::int64_t groups,
                           const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                           void* dx, void* dgamma, void* dbeta) override {
    const Access open(memory_);
    cpu_.group_norm_backward(dt, batch, channels, hw, groups, x, gamma, mean, rstd, dy, dx, dgamma, dbeta);
  }
  void attention_forward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                         const void* qkv, void* workspace, void* lse, void* out) override {
    const Access open(memory_);
    cpu_.attention_forward(dt, batch, tokens, heads, head_dim, qkv, workspace, lse, out);
  }
  void attention_backward(DType dt, std::int64_t batch, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                          const void* qkv, const void* lse, const void* out, const void* dout, void* workspace,
                          void* dqkv) override {
    const Access open(memory_);
    cpu_.attention_backward(dt, batch, tokens, heads, head_dim, qkv, lse, out, dout, workspace, dqkv);
  }
  void conv2d_forward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* bias,
                      void* workspace, void* y) override {
    const Access open(memory_);
    cpu_.conv2d_forward(dt, g, x, weight, bias, workspace, y);
  }
  void conv2d_backward(DType dt, const Conv2dShape& g, const void* x, const void* weight, const void* dy,
                       void* workspace, void* dx, void* dweight, void* dbias) override {
    const Access open(memory_);
    cpu_.conv2d_backward(dt, g, x, weight, dy, workspace, dx, dweight, dbias);
  }
  void add_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* v, void* y) override {
    const Access open(memory_);
    cpu_.add_per_plane(dt, planes, hw, v, y);
  }
  void sum_per_plane(DType dt, std::int64_t planes, std::int64_t hw, const void* dy, void* dv) override {
    const Access open(memory_);
    cpu_.sum_per_plane(dt, planes, hw, dy, dv);
  }
  void dropout_forward(DType dt, std::int64_t rows, std::int64_t cols, double p, const DropoutKey& key, const void* x,
                       void* y, void* mask) override {
    const Access open(memory_);
    cpu_.dropout_forward(dt, rows, cols, p, key, x, y, mask);
  }
  void dropout_backward(DType dt, std::int64_t n, const void* mask, const void* dy, void* dx) override {
    const Access open(memory_);
    cpu_.dropout_backward(dt, n, mask, dy, dx);
  }
  void upsample2x_forward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* x,
                          void* y) override {
    const Access open(memory_);
    cpu_.upsample2x_forward(dt, planes, h, w, x, y);
  }
  void upsample2x_backward(DType dt, std::int64_t planes, std::int64_t h, std::int64_t w, const void* dy,
                           void* dx) override {
    const Access open(memory_);
    cpu_.upsample2x_backward(dt, planes, h, w, dy, dx);
  }
  void embedding_forward(DType dt, std::int64_t rows, std::int64_t dim, const void* table,
                         std::int64_t table_rows, const std::int64_t* ids,
                         void* out) override {
    const Access open(memory_);
    cpu_.embedding_forward(dt, rows, dim, table, table_rows, ids, out);
  }
  void embedding_backward(DType dt, std::int64_t rows, std::int64_t dim, const std::int64_t* ids, const void* dout,
                          void* dtable, std::int64_t table_rows) override {
    const Access open(memory_);
    cpu_.embedding_backward(dt, rows, dim, ids, dout, dtable, table_rows);
  }
  void transpose_batched(DType dt, std::int64_t batch, std::int64_t rows, std::int64_t cols, const void* x,
                         void* y) override {
    const Access open(memory_);
    cpu_.transpose_batched(dt, batch, rows, cols, x, y);
  }
  void unpatchify(DType dt, std::int64_t batch, std::int64_t h, std::int64_t w, std::int64_t p, std::int64_t channels,
                  bool to_image, const void* in, void* out) override {
    const Access open(memory_);
    cpu_.unpatchify(dt, batch, h, w, p, channels, to_image, in, out);
  }
  void copy_blocks(DType dt, std::int64_t count, std::int64_t block, const void* src, std::int64_t src_stride,
                   void* dst, std::int64_t dst_stride, bool accumulate) override {
    const Access open(memory_);
    cpu_.copy_blocks(dt, count, block, src, src_stride, dst, dst_stride, accumulate);
  }
  void add(DType dt, std::int64_t n, const void* a, const void* b, void* y) override {
    const Access open(memory_);
    cpu_.add(dt, n, a, b, y);
  }
  void accumulate(DType dt, std::int64_t n, const void* x, void* y) override {
    const Access open(memory_);
    cpu_.accumulate(dt, n, x, y);
  }
  void scale(DType dt, std::int64_t n, double s, void* y) override {
    const Access open(memory_);
    cpu_.scale(dt, n, s, y);
  }
  void fill_zero(DType dt, std::int64_t n, void* y) override {
    const Access open(memory_);
    cpu_.fill_zero(dt, n, y);
  }
  void timestep_embedding(DType dt, std::int64_t rows, std::int64_t dim, const float* t, const SinusoidStyle& style,
                          void* out) override {
    const Access open(memory_);
    cpu_.timestep_embedding(dt, rows, dim, t, style, out);
  }
  void convert(std::int64_t n, DType from, const void* x, DType to, void* y, bool accumulate) override {
    const Access open(memory_);
    cpu_.convert(n, from, x, to, y, accumulate);
  }
  double sum_squares(DType dt, std::int64_t n, const void* x) override {
    const Access open(memory_);
    return cpu_.sum_squares(dt, n, x);
  }
  double mse_loss(DType dt, std::int64_t rows, std::int64_t cols, const void* pred, const void* target,
                  const float* row_weights, double grad_scale, void* dpred) override {
    const Access open(memory_);
    return cpu_.mse_loss(dt, rows, cols, pred, target, row_weights, grad_scale, dpred);
  }
  void adamw_step(std::int64_t n, float* param, const float* grad, float* m, float* v, float lr, float beta1,
                  float beta2, float eps, float weight_decay, std::int64_t step) override {
    const Access open(memory_);
    cpu_.adamw_step(n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step);
  }
  void sgd_step(std::int64_t n, float* param, const float* grad, float* buf, float lr, float momentum,
                float weight_decay, bool nesterov) override {
    const Access open(memory_);
    cpu_.sgd_step(n, param, grad, buf, lr, momentum, weight_decay, nesterov);
  }
  void ema_update(std::int64_t n, float decay, const float* param, float* ema) override {
    const Access open(memory_);
    cpu_.ema_update(n, decay, param, ema);
  }
  void q_sample_eps(const double* alphas_cumprod, int steps, std::uint64_t seed, std::uint32_t step,
                    std::uint32_t first, std::int64_t n, std::int64_t dim, const float* x0, float* t, float* eps,
                    float* x_t) override {
    const Access open(memory_);
    cpu_.q_sample_eps(alphas_cumprod, steps, seed, step, first, n, dim, x0, t, eps, x_t);
  }

 private:
  GuardedMemory& memory_;
  Ops& cpu_;
};

// Started collectives keep the memory open until wait_all: the comm thread works on it meanwhile.
class GuardedComm final : public Comm {
 public:
  GuardedComm(Comm& inner, GuardedMemory& memory) : inner_(inner), memory_(memory) {}
  ~GuardedComm() override {
    for (; in_flight_ > 0; --in_flight_) memory_.close();
  }
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  int local_rank() const override { return inner_.local_rank(); }
  int local_size() const override { return inner_.local_size(); }
  std::string backend() const override { return inner_.backend() + " on the guarded device"; }
  void allreduce_sum(float* data, std::int64_t n) override {
    const Access open(memory_);
    inner_.allreduce_sum(data, n);
  }
  void allreduce_sum(double* data, std::int64_t n) override {
    const Access open(memory_);
    inner_.allreduce_sum(data, n);
  }
  void allreduce_sum_bf16(std::uint16_t* data, std::int64_t n) override {
    const Access open(memory_);
    inner_.allreduce_sum_bf16(data, n);
  }
  void gather(const float* data, std::int64_t count, const std::vector<std::int64_t>& counts, float* out) override {
    const Access open(memory_);
    inner_.gather(data, count, counts, out);
  }
  void reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    const Access open(memory_);
    inner_.reduce_scatter_sum(in, out, counts);
  }
  void allgather(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    const Access open(memory_);
    inner_.allgather(in, out, counts);
  }
  void start_allreduce_sum(float* data, std::int64_t n) override {
    memory_.open();
    ++in_flight_;
    inner_.start_allreduce_sum(data, n);
  }
  void start_reduce_scatter_sum(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    memory_.open();
    ++in_flight_;
    inner_.start_reduce_scatter_sum(in, out, counts);
  }
  void progress() override { inner_.progress(); }
  void wait_all() override {
    inner_.wait_all();
    for (; in_flight_ > 0; --in_flight_) memory_.close();
  }
  void allreduce_max(double* data, std::int64_t n) override {
    const Access open(memory_);
    inner_.allreduce_max(data, n);
  }
  void broadcast(void* data, std::int64_t bytes, int root) override {
    const Access open(memory_);
    inner_.broadcast(data, bytes, root);
  }
  void scatter(const float* in, float* out, const std::vector<std::int64_t>& counts) override {
    const Access open(memory_);
    inner_.scatter(in, out, counts);
  }
  void barrier() override { inner_.barrier(); }
  [[noreturn]] void abort(int code) override {
    inner_.abort(code);
    std::abort();  // (not reached: the inner abort never returns)
  }

 private:
  Comm& inner_;
  GuardedMemory& memory_;
  int in_flight_ = 0;
};

std::mutex installed_mutex;
bool installed = false;

}  // namespace

GuardedDevice::GuardedDevice() : memory_(std::make_unique<GuardedMemory>()) {
  {
    const std::lock_guard<std::mutex> lock(installed_mutex);
    CARNOT_CHECK(!installed, "one guarded device at a time");
    installed = true;
  }
  ops_ = std::make_unique<GuardedOps>(*memory_);
  install_device_memory(memory_.get());
}

GuardedDevice::~GuardedDevice() {
  install_device_memory(nullptr);
  const std::lock_guard<std::mutex> lock(installed_mutex);
  installed = false;
}

Ops& GuardedDevice::ops() { return *ops_; }

std::int64_t GuardedDevice::allocations() const { return memory_->allocations(); }

std::unique_ptr<Comm> GuardedDevice::wrap(Comm& comm) { return std::make_unique<GuardedComm>(comm, *memory_); }

GuardedDevice::Open::Open(GuardedDevice& device) : memory_(*device.memory_) { memory_.open(); }
GuardedDevice::Open::~Open() { memory_.close(); }

}  // namespace carnot
