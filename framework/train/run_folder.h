// The run folder runs/<name>/: job.yaml (resolved spec), log.txt, metrics.jsonl, tensorboard/
// (the same metrics, and image models' sample grids, as TensorBoard event files) and checkpoints/.
// Only rank 0 writes here; a resumed run appends to the logs (and starts a new event file).
#pragma once
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "framework/io/tensorboard.h"

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
  // One line of metrics.jsonl; its numbers (but "step") also as TensorBoard scalars at "step".
  void metrics(const nlohmann::json& record);
  // A PNG file (a sample grid) as a TensorBoard image.
  void image(const std::string& tag, std::int64_t step, const std::string& png_path);

 private:
  std::string path_;
  std::ofstream log_, metrics_;
  std::unique_ptr<TensorBoardWriter> tensorboard_;
  bool live_ = false;          // progress lines are redrawn in place
  bool line_pending_ = false;  // a progress line without its newline is on screen
};

}  // namespace carnot
