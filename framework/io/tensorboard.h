// TensorBoard event files (events.out.tfevents.*), written directly: TFRecord framing (length,
// masked CRC-32C of the length, the record, masked CRC-32C of the record) around Event protocol
// buffers encoded by hand (only the few fields used: wall_time, step, file_version, and a Summary
// of scalar or PNG image values). Readable by TensorBoard and its Python event reader.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

namespace carnot {

class TensorBoardWriter {
 public:
  // Creates `dir` and a new event file in it.
  explicit TensorBoardWriter(const std::string& dir);
  void scalar(const std::string& tag, std::int64_t step, double value);
  // A PNG file's bytes as an image summary.
  void image(const std::string& tag, std::int64_t step, const std::string& png, int width, int height);
  const std::string& path() const { return path_; }

 private:
  void write_event(const std::string& event);
  std::string path_;
  std::ofstream out_;
};

// CRC-32C (Castagnoli), as TFRecord frames use it.
std::uint32_t crc32c(const void* data, std::size_t n);

}  // namespace carnot
