#include "framework/cli/export_metadata.h"

#include <nlohmann/json.hpp>

#include "framework/core/error.h"

namespace carnot {

namespace {

std::int64_t meta_int(const Metadata& m, const std::string& key, const std::string& path) {
  const auto it = m.find(key);
  if (it == m.end()) throw UsageError("'" + path + "': __metadata__ lacks '" + key + "' (not a carnot export?)");
  try {
    std::size_t used = 0;
    const std::int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("'" + path + "': __metadata__ '" + key + "' is '" + it->second + "', not an integer");
}

double meta_number(const Metadata& m, const std::string& key, const std::string& path, double fallback) {
  const auto it = m.find(key);
  if (it == m.end()) return fallback;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    throw UsageError("'" + path + "': __metadata__ '" + key + "' is '" + it->second + "', not a number");
  }
}

}  // namespace

Metadata dit_metadata(const DitConfig& c) {
  return {{"format", "carnot-export"},
          {"model", "DiT"},
          {"input_size", std::to_string(c.input_size)},
          {"patch_size", std::to_string(c.patch)},
          {"in_channels", std::to_string(c.in_channels)},
          {"hidden_size", std::to_string(c.hidden)},
          {"depth", std::to_string(c.depth)},
          {"num_heads", std::to_string(c.heads)},
          {"mlp_ratio", std::to_string(c.mlp_ratio)},
          {"class_dropout_prob", std::to_string(c.class_dropout)},
          {"num_classes", std::to_string(c.num_classes)},
          {"learn_sigma", c.learn_sigma ? "true" : "false"}};
}

namespace {

// The model's own checks, as a usage error naming the file.
template <class Config> void validate_from_file(const Config& c, const std::string& path) {
  try {
    c.validate();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    throw UsageError("'" + path + "': __metadata__ describes no buildable model: " + e.what());
  }
}

}  // namespace

DitConfig dit_from_metadata(const Metadata& m, const std::string& path) {
  DitConfig c;
  c.input_size = meta_int(m, "input_size", path), c.patch = meta_int(m, "patch_size", path);
  c.in_channels = meta_int(m, "in_channels", path), c.hidden = meta_int(m, "hidden_size", path);
  c.depth = meta_int(m, "depth", path), c.heads = meta_int(m, "num_heads", path);
  c.mlp_ratio = meta_int(m, "mlp_ratio", path), c.num_classes = meta_int(m, "num_classes", path);
  c.class_dropout = meta_number(m, "class_dropout_prob", path, 0);
  c.learn_sigma = m.count("learn_sigma") && m.at("learn_sigma") == "true";
  validate_from_file(c, path);
  return c;
}

std::string unet_diffusers_config(const UNetConfig& c) {
  nlohmann::ordered_json j;
  j["_class_name"] = "UNet2DModel";
  j["sample_size"] = c.sample_size;
  j["in_channels"] = c.in_channels;
  j["out_channels"] = c.out_channels();
  std::vector<std::int64_t> widths;
  std::vector<std::string> down, up;
  for (std::int64_t l = 0; l < c.levels(); ++l) {
    widths.push_back(c.level_channels(l));
    down.push_back(c.attention_at(l) ? "AttnDownBlock2D" : "DownBlock2D");
  }
  for (std::int64_t l = c.levels() - 1; l >= 0; --l) up.push_back(c.attention_at(l) ? "AttnUpBlock2D" : "UpBlock2D");
  j["block_out_channels"] = widths;
  j["down_block_types"] = down;
  j["up_block_types"] = up;
  j["layers_per_block"] = c.res_blocks;
  j["norm_num_groups"] = c.groups;
  j["norm_eps"] = c.norm_eps;
  j["dropout"] = c.dropout;
  j["downsample_padding"] = c.ddpm_downsample_padding ? 0 : 1;
  j["flip_sin_to_cos"] = false;
  j["freq_shift"] = 1;
  j["act_fn"] = "silu";
  j["attention_head_dim"] = c.head_dim > 0 ? nlohmann::ordered_json(c.head_dim) : nlohmann::ordered_json(nullptr);
  j["num_class_embeds"] = c.num_classes > 0 ? nlohmann::ordered_json(c.table_rows()) : nlohmann::ordered_json(nullptr);
  j["time_embedding_type"] = "positional";
  j["center_input_sample"] = false;
  j["mid_block_scale_factor"] = 1;
  j["resnet_time_scale_shift"] = "default";
  j["add_attention"] = true;
  return j.dump();
}

Metadata unet_metadata(const UNetConfig& c) {
  return {{"format", "carnot-export"},
          {"model", "UNet2DModel"},
          {"config", unet_diffusers_config(c)},
          {"num_classes", std::to_string(c.num_classes)},
          {"class_dropout_prob", std::to_string(c.class_dropout)}};
}

UNetConfig unet_from_metadata(const Metadata& m, const std::string& path) {
  const auto it = m.find("config");
  if (it == m.end()) throw UsageError("'" + path + "': __metadata__ lacks 'config' (diffusers' UNet2DModel arguments)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw UsageError("'" + path + "': __metadata__ 'config' is not JSON: " + e.what());
  }
  auto fail = [&](const std::string& what) -> UsageError {
    return UsageError("'" + path + "': config: " + what + " (carnot builds DDPM's U-Net only)");
  };
  auto expect = [&](const char* key, const nlohmann::json& want) {
    if (j.contains(key) && j[key] != want) throw fail(std::string(key) + " is " + j[key].dump() + ", not " + want.dump());
  };
  expect("flip_sin_to_cos", false);
  expect("freq_shift", 1);
  expect("act_fn", "silu");
  expect("time_embedding_type", "positional");
  expect("resnet_time_scale_shift", "default");
  expect("center_input_sample", false);
  expect("add_attention", true);
  expect("mid_block_scale_factor", 1);
  UNetConfig c;
  try {
    c.sample_size = j.at("sample_size").get<std::int64_t>();
    c.in_channels = j.at("in_channels").get<std::int64_t>();
    const auto widths = j.at("block_out_channels").get<std::vector<std::int64_t>>();
    const auto down = j.at("down_block_types").get<std::vector<std::string>>();
    if (widths.empty() || down.size() != widths.size()) throw fail("block_out_channels and down_block_types differ in length");
    if (widths[0] <= 0) throw fail("block_out_channels[0] is " + std::to_string(widths[0]));
    c.channels = widths[0];
    c.channel_mult.clear();
    c.attention_resolutions.clear();
    for (std::size_t l = 0; l < widths.size(); ++l) {
      if (widths[l] % c.channels != 0) throw fail("block_out_channels are not multiples of the first");
      c.channel_mult.push_back(widths[l] / c.channels);
      if (down[l] == "AttnDownBlock2D") c.attention_resolutions.push_back(c.sample_size >> l);
      else if (down[l] != "DownBlock2D") throw fail("down block type " + down[l]);
    }
    c.res_blocks = j.at("layers_per_block").get<std::int64_t>();
    c.groups = j.at("norm_num_groups").get<std::int64_t>();
    c.norm_eps = j.value("norm_eps", 1e-5);
    c.dropout = j.value("dropout", 0.0);
    c.ddpm_downsample_padding = j.value("downsample_padding", 1) == 0;
    c.head_dim = j.contains("attention_head_dim") && !j["attention_head_dim"].is_null()
                     ? j["attention_head_dim"].get<std::int64_t>() : 0;
    const std::int64_t out = j.value("out_channels", c.in_channels);
    if (out != c.in_channels && out != 2 * c.in_channels) throw fail("out_channels " + std::to_string(out));
    c.learn_sigma = out == 2 * c.in_channels;
    c.num_classes = meta_int(m, "num_classes", path);
    c.class_dropout = meta_number(m, "class_dropout_prob", path, 0);
    const std::int64_t rows = j.contains("num_class_embeds") && !j["num_class_embeds"].is_null()
                                  ? j["num_class_embeds"].get<std::int64_t>() : 0;
    if (rows != (c.num_classes > 0 ? c.table_rows() : 0))
      throw fail(str_cat("num_class_embeds ", rows, " for ", c.num_classes, " classes"));
  } catch (const nlohmann::json::exception& e) {
    throw fail(e.what());
  }
  validate_from_file(c, path);
  return c;
}

}  // namespace carnot
