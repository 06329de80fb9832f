#include "framework/eval/scatter_plot.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace carnot {

namespace {

// 5×7 glyphs, one byte per row (low 5 bits, bit 4 leftmost).
std::array<std::uint8_t, 7> glyph(char c) {
  switch (c) {
    case 'A': return {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11};
    case 'D': return {0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E};
    case 'E': return {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F};
    case 'H': return {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11};
    case 'L': return {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F};
    case 'M': return {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11};
    case 'N': return {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11};
    case 'O': return {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E};
    case 'P': return {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10};
    case 'R': return {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11};
    case 'S': return {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E};
    case 'T': return {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04};
    case 'F': return {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10};
    case 'C': return {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E};
    case 'I': return {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E};
    default: return {0, 0, 0, 0, 0, 0, 0};
  }
}

struct Canvas {
  Image& img;
  void set(int x, int y, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    std::uint8_t* p = &img.rgb[(std::size_t(y) * img.width + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  }
  // Blends the pixel a fraction `a` toward (r, g, b): overlapping points darken.
  void blend(int x, int y, float a, float r, float g, float b) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    std::uint8_t* p = &img.rgb[(std::size_t(y) * img.width + x) * 3];
    p[0] = std::uint8_t(p[0] + a * (r - p[0]));
    p[1] = std::uint8_t(p[1] + a * (g - p[1]));
    p[2] = std::uint8_t(p[2] + a * (b - p[2]));
  }
  void text(int x, int y, const std::string& s, int scale) {
    for (char c : s) {
      const auto g = glyph(c);
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (g[row] >> (4 - col) & 1)
            for (int dy = 0; dy < scale; ++dy)
              for (int dx = 0; dx < scale; ++dx) set(x + col * scale + dx, y + row * scale + dy, 30, 30, 30);
      x += 6 * scale;
    }
  }
};

double percentile(std::vector<float> v, double q) {
  if (v.empty()) return 0;
  const std::size_t k = std::min(v.size() - 1, std::size_t(q * double(v.size() - 1)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

}  // namespace

Image scatter_panels(const std::vector<ScatterPanel>& panels, int size) {
  constexpr int kTitle = 28, kGap = 12;
  Image img;
  img.width = int(panels.size()) * (size + kGap) + kGap;
  img.height = size + kTitle + kGap;
  img.rgb.assign(std::size_t(img.width) * img.height * 3, 255);
  Canvas canvas{img};

  // One range for every panel and both axes, so shapes compare directly.
  std::vector<float> all;
  for (const ScatterPanel& p : panels) all.insert(all.end(), p.points, p.points + 2 * p.n);
  const double lo = percentile(all, 0.002), hi = percentile(all, 0.998);
  const double pad = 0.1 * (hi - lo + 1e-9), a = lo - pad, b = hi + pad;

  for (std::size_t k = 0; k < panels.size(); ++k) {
    const int x0 = kGap + int(k) * (size + kGap), y0 = kTitle;
    canvas.text(x0 + 4, 8, panels[k].title, 2);
    for (int i = 0; i < size; ++i) {  // frame
      canvas.set(x0 + i, y0, 160, 160, 160), canvas.set(x0 + i, y0 + size - 1, 160, 160, 160);
      canvas.set(x0, y0 + i, 160, 160, 160), canvas.set(x0 + size - 1, y0 + i, 160, 160, 160);
    }
    const int zx = int((0 - a) / (b - a) * (size - 1)), zy = int((b - 0) / (b - a) * (size - 1));
    for (int i = 1; i < size - 1; ++i) {  // the axes through the origin
      if (zx > 0 && zx < size - 1) canvas.set(x0 + zx, y0 + i, 225, 225, 225);
      if (zy > 0 && zy < size - 1) canvas.set(x0 + i, y0 + zy, 225, 225, 225);
    }
    for (std::int64_t j = 0; j < panels[k].n; ++j) {
      const double px = panels[k].points[2 * j], py = panels[k].points[2 * j + 1];
      const int x = int(std::lround((px - a) / (b - a) * (size - 1)));
      const int y = int(std::lround((b - py) / (b - a) * (size - 1)));
      if (x < 1 || y < 1 || x >= size - 1 || y >= size - 1) continue;
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) canvas.blend(x0 + x + dx, y0 + y + dy, 0.35f, 20, 60, 160);
    }
  }
  return img;
}

}  // namespace carnot
