#include "framework/train/run_folder.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "framework/core/error.h"
#include "framework/io/file_util.h"

namespace carnot {

namespace fs = std::filesystem;

RunFolder::RunFolder(std::string path, bool live) : path_(std::move(path)), live_(live) {
  std::error_code ec;
  fs::create_directories(path_ + "/checkpoints", ec);
  if (ec) throw Error("cannot create run folder '" + path_ + "': " + ec.message());
  log_.open(path_ + "/log.txt", std::ios::app);
  metrics_.open(path_ + "/metrics.jsonl", std::ios::app);
  if (!log_ || !metrics_) throw Error("cannot write log files in '" + path_ + "'");
}

void RunFolder::write_spec(const std::string& yaml) const {
  write_file_atomically(path_ + "/job.yaml", yaml);
}

void RunFolder::progress(const std::string& line) {
  if (!live_) return log(line);
  std::cout << "\r\033[K" << line << std::flush;
  line_pending_ = true;
  log_ << line << '\n';
  log_.flush();
}

void RunFolder::log(const std::string& line) {
  if (line_pending_) std::cout << '\n';
  line_pending_ = false;
  std::cout << line << std::endl;
  log_ << line << '\n';
  log_.flush();
}

void RunFolder::metrics(const nlohmann::json& record) {
  metrics_ << record.dump() << '\n';
  metrics_.flush();
  if (!metrics_) throw Error("cannot append to '" + path_ + "/metrics.jsonl' (disk full?)");
  if (!tensorboard_) tensorboard_ = std::make_unique<TensorBoardWriter>(path_ + "/tensorboard");
  const std::int64_t step = record.value("step", std::int64_t(0));
  for (const auto& [name, value] : record.items())
    if (name != "step" && value.is_number()) tensorboard_->scalar(name, step, value.get<double>());
}

void RunFolder::image(const std::string& tag, std::int64_t step, const std::string& png_path) {
  if (!tensorboard_) tensorboard_ = std::make_unique<TensorBoardWriter>(path_ + "/tensorboard");
  const std::string png = read_file(png_path);
  if (png.size() < 24 || png.compare(1, 3, "PNG") != 0) throw Error("'" + png_path + "' is not a PNG file");
  auto be32 = [&](std::size_t at) {  // IHDR's width and height, big-endian, at bytes 16 and 20
    return int((std::uint8_t(png[at]) << 24) | (std::uint8_t(png[at + 1]) << 16) | (std::uint8_t(png[at + 2]) << 8) |
               std::uint8_t(png[at + 3]));
  };
  tensorboard_->image(tag, step, png, be32(16), be32(20));
}

}  // namespace carnot
