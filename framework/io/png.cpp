#include "framework/io/png.h"

#include <png.h>

#include <cstdio>

#include "framework/core/error.h"
#include "framework/io/file_util.h"

namespace carnot {

namespace {

void append(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}
void flush(png_structp) {}
[[noreturn]] void on_error(png_structp, png_const_charp msg) { throw Error(std::string("libpng: ") + msg); }
void on_warning(png_structp, png_const_charp) {}

}  // namespace

void write_png_rgb(const std::string& path, int width, int height, const std::vector<std::uint8_t>& rgb) {
  CARNOT_CHECK(rgb.size() == std::size_t(width) * std::size_t(height) * 3, "PNG buffer size");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw Error("libpng: out of memory");
  }
  std::string out;
  try {
    png_set_write_fn(png, &out, append, flush);
    png_set_IHDR(png, info, png_uint_32(width), png_uint_32(height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y)
      png_write_row(png, const_cast<png_bytep>(rgb.data() + std::size_t(y) * width * 3));
    png_write_end(png, nullptr);
  } catch (...) {
    png_destroy_write_struct(&png, &info);
    throw;
  }
  png_destroy_write_struct(&png, &info);
  write_file_atomically(path, out);
}

}  // namespace carnot
