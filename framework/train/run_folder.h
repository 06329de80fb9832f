// The run folder runs/<name>/: job.yaml (resolved spec), log.txt, metrics.jsonl and checkpoints/.
// Only rank 0 writes here; a resumed run appends to the logs.
#pragma once
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace carnot {

class RunFolder {
 public:
  // Creates the folder if needed and opens the logs for appending. live: progress lines replace
  // each other in place (for a terminal).
  RunFolder(std::string path, bool live);

  const std::string& path() const { return path_; }
  void write_spec(const std::string& yaml) const;
  // A line to stdout and log.txt.
  void log(const std::string& line);
  // A progress line: to log.txt always; on a terminal it replaces the previous progress line in
  // place, otherwise it is printed as a plain line.
  void progress(const std::string& line);
  void metrics(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream log_, metrics_;
  bool live_ = false;          // progress lines are redrawn in place
  bool line_pending_ = false;  // a progress line without its newline is on screen
};

}  // namespace carnot
