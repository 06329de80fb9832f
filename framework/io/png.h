// 8-bit RGB PNG files through libpng, written atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace carnot {

// rgb holds height rows of width × 3 bytes.
void write_png_rgb(const std::string& path, int width, int height, const std::vector<std::uint8_t>& rgb);

}  // namespace carnot
