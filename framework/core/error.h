// One error type carrying what went wrong, where, and which exit code the process should return.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace carnot {

// Process exit codes (architecture.md): 0 success, 1 runtime failure, 2 invalid spec or command
// line, 75 checkpointed for requeue.
enum class ExitCode : int { kOk = 0, kRuntime = 1, kUsage = 2, kRequeue = 75 };

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ExitCode code = ExitCode::kRuntime)
      : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }
  // Set when every rank raised this same error (a bad spec, a failed step agreed on by all), so
  // the ranks can exit together instead of aborting the job.
  bool on_all_ranks() const { return on_all_ranks_; }
  void mark_on_all_ranks() { on_all_ranks_ = true; }

 private:
  ExitCode code_;
  bool on_all_ranks_ = false;
};

// An invalid job spec or command line: exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what, ExitCode::kUsage) {}
};

// Throws e marked as raised on every rank: for checks that every rank makes alike.
template <class E> [[noreturn]] void throw_on_all_ranks(E e) {
  e.mark_on_all_ranks();
  throw e;
}

// Concatenates any streamable values into one string.
template <class... Args> std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace carnot

// Throws carnot::Error with the message and the source location when cond is false.
#define CARNOT_CHECK(cond, ...)                                                              \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw ::carnot::Error(::carnot::str_cat(__VA_ARGS__, " [check '", #cond, "' at ",     \
                                              __FILE__, ":", __LINE__, "]"));                \
  } while (0)
