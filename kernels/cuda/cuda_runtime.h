// The few CUDA runtime services the framework needs, behind a plain C++ header (no CUDA types),
// so framework code compiles without nvcc. Every call is checked; failures throw std::runtime_error
// naming the call, the CUDA error and a hint.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace carnot::cuda {

// Whether GPU `index` can run kernels. On false, `why` says why (no device, a driver too old for
// this toolkit, no driver at all); on true, `what` describes the device.
bool device_usable(int index, std::string* what, std::string* why);
void set_device(int index);
int device_count_or_zero();

void* malloc_device(std::size_t bytes);
void free_device(void* p);
void copy_to_device(void* dst, const void* src, std::size_t bytes);
void copy_to_host(void* dst, const void* src, std::size_t bytes);
void copy_device_to_device(void* dst, const void* src, std::size_t bytes);
void zero_device(void* p, std::size_t bytes);
void synchronize();
// Bytes of device memory free now (cudaMemGetInfo).
std::size_t free_bytes();

// Events on the default stream, to time work without waiting for it (the op profiler): record
// marks the point the queue has reached; elapsed waits for `stop` and gives the milliseconds.
void* event_create();
void event_destroy(void* event);
void event_record(void* event);
double event_elapsed_ms(void* start, void* stop);

// Milliseconds per call of `work` (kernels queued on the default stream), by CUDA events around
// `reps` calls after one untimed call; the mean.
double time_ms(const std::function<void()>& work, int reps);

}  // namespace carnot::cuda
