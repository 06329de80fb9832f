// Model weights as safetensors: one tensor per parameter, named as the model registered it, with
// the model's hyper-parameters in __metadata__.
#pragma once
#include <string>

#include "framework/core/tensor.h"
#include "framework/io/job_spec.h"
#include "framework/nn/parameters.h"

namespace carnot {

// Writes the parameters of `store`'s layout taken from `flat` (the live weights or the EMA copy).
void save_weights(const std::string& path, const ParameterStore& store, const Tensor& flat,
                  const ModelSpec& model);
// Reads weights into `flat` (store's live values, or a copy such as the EMA, in store's layout);
// every tensor must be present with the right shape.
void load_weights(const std::string& path, const ParameterStore& store, const Tensor& flat);
// The same from a file already read (path names it in errors).
struct SafetensorsFile;
void load_weights(const SafetensorsFile& file, const std::string& path, const ParameterStore& store, const Tensor& flat);

}  // namespace carnot
