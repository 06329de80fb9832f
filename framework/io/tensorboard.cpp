#include "framework/io/tensorboard.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "framework/core/error.h"

namespace carnot {

std::uint32_t crc32c(const void* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xffffffffu;
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

namespace {

std::uint32_t masked(std::uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

// Protocol-buffer encoding of the fields used (wire types 0: varint, 1: 64-bit, 2: bytes, 5: 32-bit).
void varint(std::string& s, std::uint64_t v) {
  while (v >= 0x80) s += char((v & 0x7f) | 0x80), v >>= 7;
  s += char(v);
}
void key(std::string& s, int field, int wire) { varint(s, std::uint64_t(field) << 3 | std::uint64_t(wire)); }
void bytes_field(std::string& s, int field, const std::string& b) {
  key(s, field, 2);
  varint(s, b.size());
  s += b;
}
void double_field(std::string& s, int field, double v) {
  key(s, field, 1);
  char b[8];
  std::memcpy(b, &v, 8);
  s.append(b, 8);
}
void float_field(std::string& s, int field, float v) {
  key(s, field, 5);
  char b[4];
  std::memcpy(b, &v, 4);
  s.append(b, 4);
}
void int_field(std::string& s, int field, std::int64_t v) {
  key(s, field, 0);
  varint(s, std::uint64_t(v));
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event { wall_time = 1; step = 2; summary = 5 } around one Summary.Value.
std::string summary_event(std::int64_t step, const std::string& value) {
  std::string summary, event;
  bytes_field(summary, 1, value);
  double_field(event, 1, now_seconds());
  int_field(event, 2, step);
  bytes_field(event, 5, summary);
  return event;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error("cannot create '" + dir + "': " + ec.message());
  char host[256] = "host";
  ::gethostname(host, sizeof host - 1);
  path_ = dir + "/events.out.tfevents." + std::to_string(std::int64_t(now_seconds())) + "." + host + "." +
          std::to_string(::getpid());
  out_.open(path_, std::ios::binary);
  if (!out_) throw Error("cannot create '" + path_ + "'");
  std::string first;  // Event { wall_time = 1; file_version = 3 }
  double_field(first, 1, now_seconds());
  bytes_field(first, 3, "brain.Event:2");
  write_event(first);
}

void TensorBoardWriter::scalar(const std::string& tag, std::int64_t step, double value) {
  std::string v;  // Summary.Value { tag = 1; simple_value = 2 }
  bytes_field(v, 1, tag);
  float_field(v, 2, float(value));
  write_event(summary_event(step, v));
}

void TensorBoardWriter::image(const std::string& tag, std::int64_t step, const std::string& png, int width,
                              int height) {
  std::string img, v;  // Summary.Image { height = 1; width = 2; colorspace = 3; encoded_image_string = 4 }
  int_field(img, 1, height);
  int_field(img, 2, width);
  int_field(img, 3, 3);  // RGB
  bytes_field(img, 4, png);
  bytes_field(v, 1, tag);  // Summary.Value { tag = 1; image = 4 }
  bytes_field(v, 4, img);
  write_event(summary_event(step, v));
}

void TensorBoardWriter::write_event(const std::string& event) {
  char len[8];
  const std::uint64_t n = event.size();
  std::memcpy(len, &n, 8);
  const std::uint32_t len_crc = masked(crc32c(len, 8)), data_crc = masked(crc32c(event.data(), event.size()));
  out_.write(len, 8);
  out_.write(reinterpret_cast<const char*>(&len_crc), 4);
  out_.write(event.data(), std::streamsize(event.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
  out_.flush();
  if (!out_) throw Error("cannot append to '" + path_ + "' (disk full?)");
}

}  // namespace carnot
