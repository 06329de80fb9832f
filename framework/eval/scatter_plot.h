// Side-by-side scatter plots of 2-D point sets on one shared scale, as an RGB image: how a person
// sees whether samples look like the data.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

struct ScatterPanel {
  std::string title;  // upper-case letters, digits and spaces (a built-in 5×7 font)
  const float* points = nullptr;  // n × 2
  std::int64_t n = 0;
};

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

// Each panel is size × size pixels (plus a title strip); all share the axes' range, taken from
// the points' 0.2 and 99.8 percentiles widened by 10%.
Image scatter_panels(const std::vector<ScatterPanel>& panels, int size = 480);

}  // namespace carnot
