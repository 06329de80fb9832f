#include "framework/debug/guarded_device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "framework/core/device_memory.h"
#include "framework/core/error.h"
#include "kernels/forwarding_ops.h"

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

// The CPU oracle's ops with the device memory open around each.
class GuardedOps final : public ForwardingOps {
 public:
  explicit GuardedOps(GuardedMemory& memory) : ForwardingOps(cpu_ops()), memory_(memory) {}
  bool on_gpu() const override { return true; }

 private:
  void begin(const char*) override { memory_.open(); }
  void end(const char*) override { memory_.close(); }

  GuardedMemory& memory_;
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
