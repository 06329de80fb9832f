#include "framework/nn/score_network.h"

#include "framework/core/error.h"

namespace carnot {

Tensor ScoreNetwork::features(const std::string& layer) const {
  std::string names;
  for (const std::string& l : feature_layers()) names += (names.empty() ? "" : ", ") + l;
  throw UsageError("no layer '" + layer + "' with features in this model" +
                   (names.empty() ? std::string(" (it keeps none)") : " (it has " + names + ")"));
}

std::string ScoreNetwork::default_feature_layer() const {
  const std::vector<std::string> layers = feature_layers();
  return layers.empty() ? std::string() : layers[layers.size() / 2];
}

}  // namespace carnot
