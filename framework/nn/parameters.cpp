#include "framework/nn/parameters.h"

#include <cmath>

#include "framework/core/random.h"
#include "kernels/ops.h"

namespace carnot {

ParamHandle ParameterStore::add(std::string name, Shape shape, ParamInit init) {
  CARNOT_CHECK(!finalized_, "parameter '", name, "' registered after the store was finalized");
  for (const ParamInfo& p : params_)
    CARNOT_CHECK(p.name != name, "parameter '", name, "' registered twice");
  params_.push_back(ParamInfo{std::move(name), shape, init, 0});
  return ParamHandle{int(params_.size()) - 1};
}

void ParameterStore::finalize(std::uint64_t seed) {
  CARNOT_CHECK(!finalized_, "parameter store finalized twice");
  seed_ = seed;
  // Reverse registration order: the last layer's gradient comes first in the flat buffer.
  std::int64_t offset = 0;
  for (auto it = params_.rbegin(); it != params_.rend(); ++it) {
    it->offset = offset;
    offset += (it->shape.numel() + ParameterStore::kAlign - 1) / ParameterStore::kAlign * ParameterStore::kAlign;
  }
  flat_size_ = offset;
  finalized_ = true;
  Buffer host = initial_values(dtype_);  // initialised here, then moved or copied to the device
  grads_ = Buffer(dtype_, Shape{offset}, device_);
  if (device_ == Device::kCpu) {
    values_ = std::move(host);
  } else {
    values_ = Buffer(dtype_, Shape{offset}, device_);
    copy_bytes(values_.tensor(), host.tensor());
  }
}

Buffer ParameterStore::initial_values(DType dtype) const {
  CARNOT_CHECK(finalized_, "initial values asked before finalize()");
  Buffer host(dtype, Shape{flat_size_});
  std::vector<double> v;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const ParamInfo& p = params_[i];
    if (p.init.kind == ParamInit::Kind::kZero) continue;
    const std::int64_t n = p.shape.numel();
    v.assign(std::size_t(n), p.init.bound);  // kConstant
    if (p.init.kind != ParamInit::Kind::kConstant)
      for (std::int64_t j = 0; j < n; j += 4) {
        const Philox4x32 r = philox_draw(seed_, 0, std::uint32_t(i), RngStream::kInit, std::uint32_t(j / 4));
        double z[4];
        if (p.init.kind == ParamInit::Kind::kNormal) {
          box_muller(r.v[0], r.v[1], &z[0], &z[1]);
          box_muller(r.v[2], r.v[3], &z[2], &z[3]);
        }
        for (int q = 0; q < 4 && j + q < n; ++q)
          v[std::size_t(j + q)] = p.init.kind == ParamInit::Kind::kNormal ? z[q] * p.init.bound
                                                                         : (2.0 * uniform_open01(r.v[q]) - 1.0) * p.init.bound;
      }
    cpu_ops().convert(n, DType::F64, v.data(), dtype,
                      static_cast<char*>(host.tensor().raw()) + p.offset * std::int64_t(dtype_size(dtype)), false);
  }
  return host;
}

ParamInit ParamInit::xavier(std::int64_t fan_in, std::int64_t fan_out) {
  return uniform(std::sqrt(6.0 / double(fan_in + fan_out)));
}

std::int64_t ParameterStore::count() const {
  std::int64_t n = 0;
  for (const ParamInfo& p : params_) n += p.shape.numel();
  return n;
}

Tensor ParameterStore::value(const ParamInfo& p) const {
  CARNOT_CHECK(finalized_, "parameter '", p.name, "' read before finalize()");
  return Tensor(static_cast<char*>(values_.tensor().raw()) + p.offset * dtype_size(dtype_),
                dtype_, p.shape, device_);
}

std::int64_t ParameterStore::flat_end(ParamHandle h) const {
  CARNOT_CHECK(finalized_ && h.index >= 0 && h.index < int(params_.size()), "invalid parameter handle ", h.index);
  const ParamInfo& p = params_[std::size_t(h.index)];
  return (p.offset + p.shape.numel() + kAlign - 1) / kAlign * kAlign;
}

Tensor ParameterStore::view(const Buffer& b, ParamHandle h) const {
  CARNOT_CHECK(finalized_ && h.index >= 0 && h.index < int(params_.size()),
               "invalid parameter handle ", h.index);
  const ParamInfo& p = params_[h.index];
  return Tensor(static_cast<char*>(b.tensor().raw()) + p.offset * dtype_size(dtype_), dtype_,
                p.shape, device_);
}

}  // namespace carnot
