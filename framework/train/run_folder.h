// The run folder runs/<name>/: job.yaml (resolved spec), log.txt, metrics.jsonl and final/ with
// the weights. Only rank 0 writes here.
#pragma once
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace carnot {

class RunFolder {
 public:
  // Creates the folder. A folder that already holds a finished run is refused unless overwrite.
  RunFolder(std::string path, bool overwrite);

  const std::string& path() const { return path_; }
  std::string final_dir() const { return path_ + "/final"; }
  void write_spec(const std::string& yaml) const;
  // A line to stdout and log.txt.
  void log(const std::string& line);
  void metrics(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream log_, metrics_;
};

}  // namespace carnot
