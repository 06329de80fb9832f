// The guarded device: the GPU code path run on the CPU, to find host code that touches device
// memory before a GPU does (where it would read garbage or crash far from the cause).
//
// Its "device memory" is host pages kept inaccessible (PROT_NONE) except while the op table, a
// copy_bytes or a collective is at work on them, so any other touch by the host is a segmentation
// fault at the line that did it (run under gdb). Its op table is the CPU oracle's behind that
// guard, so a training run on it must equal the CPU run bit for bit: what differs is only where
// the buffers live and which copies the code makes. `carnot train --device guarded` uses it.
//
// Limits: memory stays open while a started collective is in flight (until wait_all), so a stray
// touch during overlapped backward goes unseen; freed memory is returned to the system but its
// addresses are not reused, so a use after free reads zeros instead of faulting.
#pragma once
#include <cstdint>
#include <memory>

#include "framework/dist/comm.h"
#include "kernels/ops.h"

namespace carnot {

class GuardedMemory;

class GuardedDevice {
 public:
  // Installs its memory as the device memory (core/device_memory.h) until destroyed; one at a time.
  GuardedDevice();
  ~GuardedDevice();
  GuardedDevice(const GuardedDevice&) = delete;
  GuardedDevice& operator=(const GuardedDevice&) = delete;

  // The CPU op table, on_gpu() true, opening the device memory around each op.
  Ops& ops();
  // `comm` (which must outlive the result) with the device memory open around each collective.
  std::unique_ptr<Comm> wrap(Comm& comm);
  // Device allocations made so far (Buffers on the device, the bf16 scratch pool...): a step loop
  // that allocates nothing leaves it unchanged.
  std::int64_t allocations() const;

  // While one is alive the host may touch device memory (tests that look inside).
  class Open {
   public:
    explicit Open(GuardedDevice& device);
    ~Open();
    Open(const Open&) = delete;
    Open& operator=(const Open&) = delete;

   private:
    GuardedMemory& memory_;
  };

 private:
  std::unique_ptr<GuardedMemory> memory_;
  std::unique_ptr<Ops> ops_;
};

}  // namespace carnot
