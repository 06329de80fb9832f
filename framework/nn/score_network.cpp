#include "framework/nn/score_network.h"

#include "framework/core/error.h"

namespace carnot {

Tensor ScoreNetwork::features(const std::string& layer) const {
  std::string names;
  for (const std::string& l : feature_layers()) names += (names.empty() ? "" : ", ") + l;
  throw UsageError("no layer '" + layer + "' with features in this model" +
                   (names.empty() ? std::string(" (it keeps none)") : " (it has " + names + ")"));
}

void check_class_labels(const std::int64_t* y, std::int64_t n, std::int64_t rows, Device device, const char* network) {
  CARNOT_CHECK(y != nullptr, "a class-conditional ", network, " (", rows, " label rows) got no labels");
  std::vector<std::int64_t> on_host;
  if (device == Device::kCuda) {
    on_host.resize(static_cast<std::size_t>(n));
    copy_bytes(on_host.data(), Device::kCpu, y, Device::kCuda, on_host.size() * sizeof(std::int64_t));
    y = on_host.data();
  }
  for (std::int64_t i = 0; i < n; ++i)
    CARNOT_CHECK(y[i] >= 0 && y[i] < rows, "class label ", y[i], " outside [0, ", rows, ")");
}

std::string ScoreNetwork::default_feature_layer() const {
  const std::vector<std::string> layers = feature_layers();
  return layers.empty() ? std::string() : layers[layers.size() / 2];
}

}  // namespace carnot
