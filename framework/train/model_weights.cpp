#include "framework/train/model_weights.h"

#include "framework/core/error.h"
#include "framework/io/safetensors.h"

namespace carnot {

void save_weights(const std::string& path, const ParameterStore& store, const Tensor& flat,
                  const ModelSpec& model) {
  CARNOT_CHECK(flat.numel() == store.values().numel(), "weights buffer does not match the model");
  std::vector<SafetensorsTensor> tensors;
  for (const ParamInfo& p : store.params()) {
    SafetensorsTensor t;
    t.name = p.name;
    t.dtype = flat.dtype();  // the float32 weights (a bf16 network's master copy), not the store's dtype
    for (int i = 0; i < p.shape.rank(); ++i) t.shape.push_back(p.shape[i]);
    const char* src = static_cast<const char*>(flat.raw()) + p.offset * dtype_size(flat.dtype());
    t.bytes.resize(std::size_t(p.shape.numel()) * dtype_size(flat.dtype()));
    copy_bytes(t.bytes.data(), Device::kCpu, src, flat.device(), t.bytes.size());
    tensors.push_back(std::move(t));
  }
  const std::map<std::string, std::string> metadata = {
      {"format", "carnot"},          {"model.kind", model.kind},
      {"model.hidden", std::to_string(model.hidden)},
      {"model.depth", std::to_string(model.depth)},
      {"model.time_embed", std::to_string(model.time_embed)}};
  write_safetensors(path, tensors, metadata);
}

void load_weights(const std::string& path, const ParameterStore& store, const Tensor& flat) {
  load_weights(read_safetensors(path), path, store, flat);
}

void load_weights(const SafetensorsFile& file, const std::string& path, const ParameterStore& store, const Tensor& flat) {
  CARNOT_CHECK(flat.numel() == store.values().numel(), "weights buffer does not match the model");
  for (const ParamInfo& p : store.params()) {
    const SafetensorsTensor* t = nullptr;
    for (const SafetensorsTensor& c : file.tensors)
      if (c.name == p.name) t = &c;
    if (!t) throw Error("'" + path + "' has no tensor '" + p.name + "' (does the job spec match?)");
    const Tensor dst(static_cast<char*>(flat.raw()) + p.offset * dtype_size(flat.dtype()),
                     flat.dtype(), p.shape, flat.device());
    std::string shape = "[";
    for (std::int64_t d : t->shape) shape += (shape.size() > 1 ? ", " : "") + std::to_string(d);
    shape += "]";
    if (t->dtype != flat.dtype() || t->bytes.size() != dst.bytes() || shape != p.shape.str())
      throw Error("'" + path + "': tensor '" + p.name + "' is " +
                  std::string(dtype_name(t->dtype)) + shape + ", the model expects " +
                  std::string(dtype_name(flat.dtype())) + p.shape.str());
    copy_bytes(dst.raw(), dst.device(), t->bytes.data(), Device::kCpu, t->bytes.size());
  }
}

}  // namespace carnot
