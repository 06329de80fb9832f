// ParameterStore: every parameter of a model lives in one flat buffer and every gradient in
// another, laid out in reverse order of registration (the order backward produces gradients,
// which is the order gradient buckets are reduced in). Modules register during construction;
// finalize() allocates and initialises once.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/core/tensor.h"

namespace carnot {

struct ParamInit {
  enum class Kind { kUniform, kZero, kNormal, kConstant };
  Kind kind = Kind::kZero;
  double bound = 0;  // kUniform: U(-bound, bound); kNormal: the standard deviation; kConstant: the value

  static ParamInit uniform(double bound) { return {Kind::kUniform, bound}; }
  static ParamInit normal(double std) { return {Kind::kNormal, std}; }
  static ParamInit zero() { return {Kind::kZero, 0}; }
  static ParamInit constant(double value) { return {Kind::kConstant, value}; }  // norms' gains: 1
  // Glorot's U(±√(6 / (fan_in + fan_out))), as torch.nn.init.xavier_uniform_.
  static ParamInit xavier(std::int64_t fan_in, std::int64_t fan_out);
};

struct ParamHandle {
  int index = -1;
};

struct ParamInfo {
  std::string name;  // e.g. "blocks.0.fc1.weight"
  Shape shape;
  ParamInit init;
  std::int64_t offset = 0;  // elements from the start of the flat buffers
};

class ParameterStore {
 public:
  static constexpr std::int64_t kAlign = 16;  // each parameter starts at a multiple: 64 bytes in fp32

  // device: where the flat buffers live (kCuda: initialised on the host, then copied).
  explicit ParameterStore(DType dtype, Device device = Device::kCpu) : dtype_(dtype), device_(device) {}
  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  ParamHandle add(std::string name, Shape shape, ParamInit init);
  // Allocates the flat buffers and draws every initial value from Philox keyed by seed.
  void finalize(std::uint64_t seed);
  // The initial values again, in `dtype`, on the host, laid out as values(): drawn in float64 and
  // rounded once (bf16 training's float32 master weights start from the same draws as its bf16 ones).
  Buffer initial_values(DType dtype) const;

  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool finalized() const { return finalized_; }
  const std::vector<ParamInfo>& params() const { return params_; }
  std::int64_t count() const;  // parameters, without alignment padding
  Tensor value(ParamHandle h) const { return view(values_, h); }
  Tensor grad(ParamHandle h) const { return view(grads_, h); }
  Tensor values() const { return values_.tensor(); }  // flat, padding included
  Tensor grads() const { return grads_.tensor(); }
  Tensor value(const ParamInfo& p) const;
  // One past h's last element in the flat buffers, its alignment padding included (after
  // finalize): the grads-ready mark once h's gradient is final.
  std::int64_t flat_end(ParamHandle h) const;

 private:
  Tensor view(const Buffer& b, ParamHandle h) const;

  DType dtype_;
  Device device_ = Device::kCpu;
  std::vector<ParamInfo> params_;
  Buffer values_, grads_;
  bool finalized_ = false;
  std::uint64_t seed_ = 0;
  std::int64_t flat_size_ = 0;
};

}  // namespace carnot
