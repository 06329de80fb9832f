// The job spec reader's machinery (internal to framework/io/job_spec*.cpp): a reader that knows
// the source and the --set overrides and turns every problem into a UsageError naming file, line,
// column and key; allowed ranges of values; one section's keys read into typed fields.
#pragma once
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "framework/core/error.h"
#include "framework/io/job_spec.h"

namespace carnot::spec_reader {

// Edit distance, for "did you mean" hints on misspelled keys.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

inline std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

inline std::string node_kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    default: return "an undefined value";
  }
}

// Reads typed values out of the YAML tree and reports every problem with its location.
class SpecReader {
 public:
  SpecReader(std::string source, std::map<std::string, std::string> overridden)
      : source_(std::move(source)), overridden_(std::move(overridden)) {}

  [[noreturn]] void fail(const YAML::Node& node, const std::string& path,
                         const std::string& message) const {
    throw UsageError(where(node, path) + ": " + (path.empty() ? "" : path + ": ") + message);
  }

  // "file:line:column", or the override the value came from.
  std::string where(const YAML::Node& node, const std::string& path) const {
    for (std::string p = path;; p = p.substr(0, p.rfind('.'))) {
      if (auto it = overridden_.find(p); it != overridden_.end()) return "--set '" + it->second + "'";
      if (p.find('.') == std::string::npos) break;
    }
    if (node.IsDefined() && !node.Mark().is_null())
      return str_cat(source_, ":", node.Mark().line + 1, ":", node.Mark().column + 1);
    return source_;
  }

  // node must be a mapping whose keys are all in `keys`, each at most once.
  void expect_keys(const YAML::Node& node, const std::string& path,
                   const std::vector<std::string>& keys) const {
    if (!node.IsMap()) fail(node, path, "expected a mapping of keys, got " + node_kind(node));
    std::set<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string full = join_path(path, key);
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string msg = "unknown key '" + full + "'";
        const std::string* best = nullptr;
        std::size_t best_d = 3;
        for (const std::string& k : keys)
          if (std::size_t d = edit_distance(key, k); d < best_d) best_d = d, best = &k;
        if (best) msg += " (did you mean '" + join_path(path, *best) + "'?)";
        else msg += "; allowed keys here: " + join(keys);
        throw UsageError(where(kv.first, full) + ": " + msg);
      }
      if (!seen.insert(key).second)
        throw UsageError(where(kv.first, full) + ": key '" + full + "' appears twice");
    }
  }

  std::string scalar(const YAML::Node& node, const std::string& path, const char* what) const {
    if (!node.IsScalar()) fail(node, path, std::string("expected ") + what + ", got " + node_kind(node));
    return node.Scalar();
  }

  double number(const YAML::Node& node, const std::string& path) const {
    const std::string s = scalar(node, path, "a number");
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) fail(node, path, "expected a number, got '" + s + "'");
    if (!std::isfinite(v)) fail(node, path, "must be a finite number, got '" + s + "'");
    return v;
  }

  // Integers may be written as 5000 or 5e3, but must be exact.
  std::int64_t integer(const YAML::Node& node, const std::string& path) const {
    const std::string s = scalar(node, path, "an integer");
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) return v;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && d == std::floor(d) &&
        std::fabs(d) < 9.0e15)
      return std::int64_t(d);
    fail(node, path, "expected an integer, got '" + s + "'");
  }

  std::vector<double> numbers(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence() || node.size() == 0)
      fail(node, path, "expected a non-empty list of numbers, got " + node_kind(node));
    std::vector<double> v;
    for (std::size_t i = 0; i < node.size(); ++i)
      v.push_back(number(node[i], path + "[" + std::to_string(i) + "]"));
    return v;
  }

  std::vector<std::int64_t> integers(const YAML::Node& node, const std::string& path, bool allow_empty) const {
    if (!node.IsSequence() || (node.size() == 0 && !allow_empty))
      fail(node, path, std::string("expected a ") + (allow_empty ? "" : "non-empty ") + "list of integers, got " +
                           node_kind(node));
    std::vector<std::int64_t> v;
    for (std::size_t i = 0; i < node.size(); ++i) v.push_back(integer(node[i], path + "[" + std::to_string(i) + "]"));
    return v;
  }

  std::vector<std::vector<double>> rows(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence() || node.size() == 0)
      fail(node, path, "expected a list of lists of numbers (one per component), got " + node_kind(node));
    std::vector<std::vector<double>> v;
    for (std::size_t i = 0; i < node.size(); ++i) v.push_back(numbers(node[i], path + "[" + std::to_string(i) + "]"));
    return v;
  }

  std::string choice(const YAML::Node& node, const std::string& path,
                     const std::vector<std::string>& allowed) const {
    const std::string s = scalar(node, path, "a name");
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
      fail(node, path, "'" + s + "' is not one of: " + join(allowed));
    return s;
  }

  void require(bool ok, const YAML::Node& node, const std::string& path,
               const std::string& message) const {
    if (!ok) fail(node, path, message);
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  }

 private:
  std::string source_;
  std::map<std::string, std::string> overridden_;
};

inline std::string fmt(double v) { return format_number(v); }

// An allowed interval of values, printed as the user reads it: "> 0", "in [0, 1)".
struct Range {
  double lo = -HUGE_VAL, hi = HUGE_VAL;
  bool lo_open = false, hi_open = false;
  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string str() const {
    if (hi == HUGE_VAL) return (lo_open ? "> " : "≥ ") + fmt(lo);
    return "in " + std::string(lo_open ? "(" : "[") + fmt(lo) + ", " + fmt(hi) + (hi_open ? ")" : "]");
  }
};
inline Range at_least(double lo) { return {lo, HUGE_VAL, false, false}; }
inline Range above(double lo) { return {lo, HUGE_VAL, true, false}; }
inline Range closed(double lo, double hi) { return {lo, hi, false, false}; }
inline Range half_open(double lo, double hi) { return {lo, hi, false, true}; }
inline Range open_closed(double lo, double hi) { return {lo, hi, true, false}; }

// One section of the spec: checks its keys, then reads each present key into a typed field.
class Section {
 public:
  Section(const SpecReader& r, const YAML::Node& node, std::string name,
          const std::vector<std::string>& keys)
      : r_(r), node_(node), name_(std::move(name)) {
    r.expect_keys(node, name_, keys);
  }

  // Calls fn(value node, key path) when the key is present.
  template <class Fn> void key(const char* key, Fn&& fn) const {
    const YAML::Node v = node_[key];
    if (v.IsDefined()) fn(v, join_path(name_, key));
  }
  void integer(const char* k, std::int64_t& out, Range range, const std::string& why = "") const {
    key(k, [&](const YAML::Node& v, const std::string& p) {
      out = r_.integer(v, p);
      r_.require(range.contains(double(out)), v, p,
                 "must be " + range.str() + why + ", got " + std::to_string(out));
    });
  }
  void number(const char* k, double& out, Range range, const std::string& why = "") const {
    key(k, [&](const YAML::Node& v, const std::string& p) {
      out = r_.number(v, p);
      r_.require(range.contains(out), v, p, "must be " + range.str() + why + ", got " + fmt(out));
    });
  }
  void choice(const char* k, std::string& out, const std::vector<std::string>& allowed) const {
    key(k, [&](const YAML::Node& v, const std::string& p) { out = r_.choice(v, p, allowed); });
  }

 private:
  const SpecReader& r_;
  const YAML::Node& node_;
  std::string name_;
};

}  // namespace carnot::spec_reader
