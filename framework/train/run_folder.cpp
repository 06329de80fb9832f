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
}

}  // namespace carnot
