#include "framework/io/job_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "framework/core/error.h"

namespace carnot {

namespace {

// Edit distance, for "did you mean" hints on misspelled keys.
std::size_t edit_distance(const std::string& a, const std::string& b) {
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

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string node_kind(const YAML::Node& n) {
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

std::string fmt(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}

// Reads `key` of `map` with fn(node, path) if present.
template <class Fn>
void with_key(const YAML::Node& map, const std::string& section, const char* key, Fn&& fn) {
  const YAML::Node v = map[key];
  const std::string path = join_path(section, key);
  if (v.IsDefined()) fn(v, path);
}

void read_data(const SpecReader& r, const YAML::Node& n, DataSpec& d) {
  r.expect_keys(n, "data", {"kind", "noise"});
  with_key(n, "data", "kind", [&](auto& v, auto& p) { d.kind = r.choice(v, p, {"swissroll"}); });
  with_key(n, "data", "noise", [&](auto& v, auto& p) {
    d.noise = r.number(v, p);
    r.require(d.noise >= 0, v, p, "must be ≥ 0, got " + fmt(d.noise));
  });
}

void read_model(const SpecReader& r, const YAML::Node& n, ModelSpec& m) {
  r.expect_keys(n, "model", {"kind", "hidden", "depth", "time_embed"});
  with_key(n, "model", "kind", [&](auto& v, auto& p) { m.kind = r.choice(v, p, {"mlp"}); });
  with_key(n, "model", "hidden", [&](auto& v, auto& p) {
    m.hidden = r.integer(v, p);
    r.require(m.hidden >= 1 && m.hidden <= 65536, v, p,
              "must be in [1, 65536], got " + std::to_string(m.hidden));
  });
  with_key(n, "model", "depth", [&](auto& v, auto& p) {
    m.depth = r.integer(v, p);
    r.require(m.depth >= 0 && m.depth <= 1024, v, p,
              "must be in [0, 1024], got " + std::to_string(m.depth));
  });
  with_key(n, "model", "time_embed", [&](auto& v, auto& p) {
    m.time_embed = r.integer(v, p);
    r.require(m.time_embed >= 2 && m.time_embed % 2 == 0 && m.time_embed <= 65536, v, p,
              "must be an even number in [2, 65536], got " + std::to_string(m.time_embed));
  });
}

void read_diffusion(const SpecReader& r, const YAML::Node& n, DiffusionSpec& d) {
  r.expect_keys(n, "diffusion", {"schedule", "steps", "objective"});
  with_key(n, "diffusion", "schedule",
           [&](auto& v, auto& p) { d.schedule = r.choice(v, p, {"linear"}); });
  with_key(n, "diffusion", "steps", [&](auto& v, auto& p) {
    d.steps = r.integer(v, p);
    // The linear schedule scales DDPM's β range by 1000/T; β_T = 20/T must stay below 1.
    r.require(d.steps >= 21 && d.steps <= 100000, v, p,
              "must be in [21, 100000] (the linear schedule's last β is 20/steps), got " +
                  std::to_string(d.steps));
  });
  with_key(n, "diffusion", "objective",
           [&](auto& v, auto& p) { d.objective = r.choice(v, p, {"eps"}); });
}

void read_optimizer(const SpecReader& r, const YAML::Node& n, OptimizerSpec& o) {
  r.expect_keys(n, "optimizer", {"kind", "lr", "weight_decay", "betas", "eps", "grad_clip"});
  with_key(n, "optimizer", "kind", [&](auto& v, auto& p) { o.kind = r.choice(v, p, {"adamw"}); });
  with_key(n, "optimizer", "lr", [&](auto& v, auto& p) {
    o.lr = r.number(v, p);
    r.require(o.lr > 0, v, p, "must be > 0, got " + fmt(o.lr));
  });
  with_key(n, "optimizer", "weight_decay", [&](auto& v, auto& p) {
    o.weight_decay = r.number(v, p);
    r.require(o.weight_decay >= 0, v, p, "must be ≥ 0, got " + fmt(o.weight_decay));
  });
  with_key(n, "optimizer", "betas", [&](auto& v, auto& p) {
    r.require(v.IsSequence() && v.size() == 2, v, p,
              "expected a list of two numbers [beta1, beta2], got " + node_kind(v));
    o.beta1 = r.number(v[0], p + "[0]");
    o.beta2 = r.number(v[1], p + "[1]");
    r.require(o.beta1 >= 0 && o.beta1 < 1, v[0], p + "[0]", "must be in [0, 1), got " + fmt(o.beta1));
    r.require(o.beta2 >= 0 && o.beta2 < 1, v[1], p + "[1]", "must be in [0, 1), got " + fmt(o.beta2));
  });
  with_key(n, "optimizer", "eps", [&](auto& v, auto& p) {
    o.eps = r.number(v, p);
    r.require(o.eps > 0, v, p, "must be > 0, got " + fmt(o.eps));
  });
  with_key(n, "optimizer", "grad_clip", [&](auto& v, auto& p) {
    o.grad_clip = r.number(v, p);
    r.require(o.grad_clip >= 0, v, p, "must be ≥ 0 (0 turns clipping off), got " + fmt(o.grad_clip));
  });
}

void read_train(const SpecReader& r, const YAML::Node& n, TrainSpec& t) {
  r.expect_keys(n, "train", {"global_batch", "steps", "ema"});
  with_key(n, "train", "global_batch", [&](auto& v, auto& p) {
    t.global_batch = r.integer(v, p);
    r.require(t.global_batch >= 1 && t.global_batch <= (std::int64_t(1) << 24), v, p,
              "must be in [1, 16777216], got " + std::to_string(t.global_batch));
  });
  with_key(n, "train", "steps", [&](auto& v, auto& p) {
    t.steps = r.integer(v, p);
    r.require(t.steps >= 1 && t.steps <= 2000000000, v, p,
              "must be in [1, 2e9], got " + std::to_string(t.steps));
  });
  with_key(n, "train", "ema", [&](auto& v, auto& p) {
    t.ema = r.number(v, p);
    r.require(t.ema >= 0 && t.ema < 1, v, p, "must be in [0, 1), got " + fmt(t.ema));
  });
}

void read_log(const SpecReader& r, const YAML::Node& n, LogSpec& l) {
  r.expect_keys(n, "log", {"every"});
  with_key(n, "log", "every", [&](auto& v, auto& p) {
    l.every = r.integer(v, p);
    r.require(l.every >= 1, v, p, "must be ≥ 1, got " + std::to_string(l.every));
  });
}

// Applies `key.path=value` to the document; returns the path it set.
std::string apply_override(YAML::Node& root, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--set '" + text + "': expected key.path=value");
  const std::string path = text.substr(0, eq), value_text = text.substr(eq + 1);
  std::vector<std::string> keys;
  std::stringstream ss(path);
  for (std::string k; std::getline(ss, k, '.');) {
    if (k.empty()) throw UsageError("--set '" + text + "': empty key in '" + path + "'");
    keys.push_back(k);
  }
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw UsageError("--set '" + text + "': the value is not valid YAML: " + e.msg);
  }
  if (!value.IsDefined() || value.IsNull())
    throw UsageError("--set '" + text + "': no value given after '='");
  YAML::Node cur = root;
  std::string at;
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    at = join_path(at, keys[i]);
    YAML::Node next = cur[keys[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw UsageError("--set '" + text + "': '" + at + "' is a value, not a section");
    if (!next.IsDefined() || next.IsNull()) cur[keys[i]] = YAML::Node(YAML::NodeType::Map);
    cur.reset(cur[keys[i]]);
  }
  cur[keys.back()] = value;
  return path;
}

}  // namespace

JobSpec parse_job_spec(const std::string& yaml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw UsageError(str_cat(source_name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                             ": not valid YAML: ", e.msg));
  }
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap())
    throw UsageError(source_name + ": a job spec is a mapping of sections, got " + node_kind(root));

  std::map<std::string, std::string> overridden;
  for (const std::string& o : overrides) overridden[apply_override(root, o)] = o;

  const SpecReader r(source_name, overridden);
  r.expect_keys(root, "",
                {"name", "seed", "data", "model", "diffusion", "optimizer", "train", "log"});
  JobSpec spec;
  const YAML::Node& top = root;
  with_key(top, "", "name", [&](auto& v, auto& p) {
    spec.name = r.scalar(v, p, "a name");
    const bool ok = !spec.name.empty() && spec.name.size() <= 128 &&
                    std::all_of(spec.name.begin(), spec.name.end(), [](char c) {
                      return std::isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
                    }) &&
                    spec.name[0] != '.';
    r.require(ok, v, p, "must be 1-128 letters, digits, '_', '-' or '.', not starting with '.' "
              "(it names the run folder), got '" + spec.name + "'");
  });
  if (!top["name"].IsDefined())
    throw UsageError(source_name + ": missing key 'name' (it names the run folder)");
  with_key(top, "", "seed", [&](auto& v, auto& p) {
    const std::int64_t s = r.integer(v, p);
    r.require(s >= 0, v, p, "must be ≥ 0, got " + std::to_string(s));
    spec.seed = std::uint64_t(s);
  });
  with_key(top, "", "data", [&](auto& v, auto&) { read_data(r, v, spec.data); });
  with_key(top, "", "model", [&](auto& v, auto&) { read_model(r, v, spec.model); });
  with_key(top, "", "diffusion", [&](auto& v, auto&) { read_diffusion(r, v, spec.diffusion); });
  with_key(top, "", "optimizer", [&](auto& v, auto&) { read_optimizer(r, v, spec.optimizer); });
  with_key(top, "", "train", [&](auto& v, auto&) { read_train(r, v, spec.train); });
  with_key(top, "", "log", [&](auto& v, auto&) { read_log(r, v, spec.log); });
  return spec;
}

JobSpec load_job_spec(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read job spec '" + path + "': " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_job_spec(text.str(), path, overrides);
}

std::string job_spec_to_yaml(const JobSpec& s) {
  YAML::Emitter out;
  auto num = [](double v) { return fmt(v); };
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << s.name;
  out << YAML::Key << "seed" << YAML::Value << s.seed;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.data.kind;
  out << YAML::Key << "noise" << YAML::Value << num(s.data.noise) << YAML::EndMap;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.model.kind;
  out << YAML::Key << "hidden" << YAML::Value << s.model.hidden;
  out << YAML::Key << "depth" << YAML::Value << s.model.depth;
  out << YAML::Key << "time_embed" << YAML::Value << s.model.time_embed << YAML::EndMap;
  out << YAML::Key << "diffusion" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "schedule" << YAML::Value << s.diffusion.schedule;
  out << YAML::Key << "steps" << YAML::Value << s.diffusion.steps;
  out << YAML::Key << "objective" << YAML::Value << s.diffusion.objective << YAML::EndMap;
  out << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "kind" << YAML::Value << s.optimizer.kind;
  out << YAML::Key << "lr" << YAML::Value << num(s.optimizer.lr);
  out << YAML::Key << "weight_decay" << YAML::Value << num(s.optimizer.weight_decay);
  out << YAML::Key << "betas" << YAML::Value << YAML::Flow << YAML::BeginSeq
      << num(s.optimizer.beta1) << num(s.optimizer.beta2) << YAML::EndSeq;
  out << YAML::Key << "eps" << YAML::Value << num(s.optimizer.eps);
  out << YAML::Key << "grad_clip" << YAML::Value << num(s.optimizer.grad_clip) << YAML::EndMap;
  out << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "global_batch" << YAML::Value << s.train.global_batch;
  out << YAML::Key << "steps" << YAML::Value << s.train.steps;
  out << YAML::Key << "ema" << YAML::Value << num(s.train.ema) << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "every" << YAML::Value << s.log.every << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace carnot
