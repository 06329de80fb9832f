// carnot export --ckpt RUN --out model.safetensors [--no-ema]: an image network's weights as the
// reference implementation names them — a DiT as facebookresearch/DiT's state dict
// (x_embedder.proj.weight, ..., pos_embed [1, N, C]), a U-Net as diffusers' UNet2DModel's —
// EMA weights unless --no-ema, with what rebuilds the model in __metadata__ (export_metadata.h).
//
// carnot forward --ckpt RUN_OR_EXPORT --x x.npy --t t.npy [--y y.npy] --out out.npy: one network
// evaluation on given inputs (x: N×C×H×W float32, t: N float32 in the model's time units, y: N
// int64), so exports can be checked against other implementations.
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/io/file_util.h"
#include "framework/io/npy.h"
#include "framework/io/safetensors.h"
#include "framework/cli/export_metadata.h"
#include "framework/train/model_weights.h"
#include "framework/train/networks.h"

namespace carnot {

namespace {

bool is_safetensors(const std::string& path) {
  return path.size() > 12 && path.substr(path.size() - 12) == ".safetensors";
}

// An image network with its weights, from a checkpoint or an export, and what an export of it holds.
struct ImageNetwork {
  std::unique_ptr<ScoreNetwork> net;
  const char* kind = "";  // "DiT" or "U-Net"
  std::int64_t in_channels = 0, side = 0, out_channels = 0, num_classes = 0;
  Metadata metadata;
  Dit* dit = nullptr;  // a DiT's fixed pos_embed goes into the export too
};

ImageNetwork wrap(std::unique_ptr<Dit> d) {
  ImageNetwork w;
  const DitConfig& c = d->config();
  w.kind = "DiT", w.in_channels = c.in_channels, w.side = c.input_size, w.out_channels = c.out_channels();
  w.num_classes = c.num_classes, w.metadata = dit_metadata(c), w.dit = d.get();
  w.net = std::move(d);
  return w;
}

ImageNetwork wrap(std::unique_ptr<UNet> u) {
  ImageNetwork w;
  const UNetConfig& c = u->config();
  w.kind = "U-Net", w.in_channels = c.in_channels, w.side = c.sample_size, w.out_channels = c.out_channels();
  w.num_classes = c.num_classes, w.metadata = unet_metadata(c);
  w.net = std::move(u);
  return w;
}

// From a checkpoint (run or checkpoint folder; EMA unless no_ema) or an export.
ImageNetwork load_image_network(const std::string& source, bool no_ema, std::int64_t max_batch) {
  if (is_safetensors(source)) {
    const SafetensorsFile f = read_safetensors(source);
    const std::string model = f.metadata.count("model") ? f.metadata.at("model") : "";
    // The file's values against what its config describes, before anything of that size is built.
    std::int64_t values = 0;
    for (const SafetensorsTensor& t : f.tensors) {
      std::int64_t numel = 1;
      for (std::int64_t d : t.shape) numel *= d;
      values += numel;
    }
    auto expect_count = [&](std::int64_t described) {
      if (described != values)
        throw UsageError(str_cat("'", source, "': its __metadata__ describes a model of ", described,
                                 " parameters, but the file holds ", values, " values"));
    };
    ImageNetwork w;
    if (model == "DiT") {
      const DitConfig c = dit_from_metadata(f.metadata, source);
      expect_count(dit_parameter_count(c));  // pos_embed included, as in the file
      w = wrap(std::make_unique<Dit>(c, DType::F32, cpu_ops(), max_batch, 0));
      // The file's pos_embed, as the reference's load_state_dict takes it (ours is the same sin-cos
      // table unless the file was edited).
      const SafetensorsTensor& pos = f.get("pos_embed");
      const Tensor mine = w.dit->pos_embed();
      if (pos.dtype != DType::F32 || pos.bytes.size() != mine.bytes())
        throw UsageError(str_cat("'", source, "': pos_embed has ", pos.bytes.size(), " bytes, the model's is ",
                                 mine.bytes(), " (float32 [1, ", mine.dim(1), ", ", mine.dim(2), "])"));
      std::memcpy(mine.raw(), pos.bytes.data(), pos.bytes.size());
    } else if (model == "UNet2DModel") {
      const UNetConfig c = unet_from_metadata(f.metadata, source);
      expect_count(unet_parameter_count(c));
      w = wrap(std::make_unique<UNet>(c, DType::F32, cpu_ops(), max_batch, 0));
    } else {
      throw UsageError("'" + source + "' is not a carnot export (its __metadata__ model is '" + model +
                       "', not DiT or UNet2DModel)");
    }
    load_weights(f, source, w.net->params(), w.net->params().values());
    return w;
  }
  const std::string dir = resolve_checkpoint(source);
  const JobSpec spec = parse_job_spec(read_file(dir + "/job.yaml"), dir + "/job.yaml");
  ImageNetwork w;
  if (spec.model.kind == "dit")
    w = wrap(std::make_unique<Dit>(dit_config(spec), DType::F32, cpu_ops(), max_batch, spec.seed));
  else if (spec.model.kind == "unet")
    w = wrap(std::make_unique<UNet>(unet_config(spec), DType::F32, cpu_ops(), max_batch, spec.seed));
  else
    throw UsageError("'" + source + "' holds a model.kind " + spec.model.kind +
                     " checkpoint; export and forward are for image networks (dit, unet)");
  load_weights(dir + (no_ema ? "/model" : "/ema") + ".safetensors", w.net->params(), w.net->params().values());
  return w;
}

SafetensorsTensor as_safetensors(const std::string& name, const Tensor& v) {
  SafetensorsTensor t{name, DType::F32, {}, {}};
  for (int i = 0; i < v.shape().rank(); ++i) t.shape.push_back(v.dim(i));
  t.bytes.assign(static_cast<const char*>(v.raw()), static_cast<const char*>(v.raw()) + v.bytes());
  return t;
}

}  // namespace

int run_export(const ExportArgs& args) {
  if (!is_safetensors(args.out) || args.out.size() < 13)
    throw UsageError("--out '" + args.out + "': the file name must end in .safetensors");
  const ImageNetwork w = load_image_network(args.ckpt, args.no_ema, 1);
  const ParameterStore& store = w.net->params();
  std::vector<SafetensorsTensor> tensors;
  for (const ParamInfo& p : store.params()) tensors.push_back(as_safetensors(p.name, store.value(p)));
  std::int64_t count = store.count();
  if (w.dit) {
    tensors.push_back(as_safetensors("pos_embed", w.dit->pos_embed()));
    count += w.dit->pos_embed().numel();
  }
  write_safetensors(args.out, tensors, w.metadata);
  std::printf("carnot: %s weights of %s (a %s, %lld parameters%s) written to %s\n", args.no_ema ? "live" : "EMA",
              args.ckpt.c_str(), w.kind, (long long)count, w.dit ? " with pos_embed" : "", args.out.c_str());
  return 0;
}

int run_forward(const ForwardArgs& args) {
  const NpyArray x = read_npy(args.x), t = read_npy(args.t);
  if (x.uint8 || x.int64 || x.dtype != DType::F32 || x.shape.size() != 4)
    throw UsageError("--x '" + args.x + "': need a float32 array N×C×H×W");
  const std::int64_t n = x.shape[0];
  if (t.uint8 || t.int64 || t.dtype != DType::F32 || t.shape != std::vector<std::int64_t>{n})
    throw UsageError(str_cat("--t '", args.t, "': need a float32 array of ", n, " times"));
  const ImageNetwork w = load_image_network(args.ckpt, args.no_ema, n);
  if (x.shape[1] != w.in_channels || x.shape[2] != w.side || x.shape[3] != w.side)
    throw UsageError(str_cat("--x '", args.x, "' is ", x.shape[1], "×", x.shape[2], "×", x.shape[3],
                             " per sample; the model takes ", w.in_channels, "×", w.side, "×", w.side));
  std::vector<std::int64_t> y;
  if (w.num_classes > 0) {
    if (args.y.empty()) throw UsageError("the model is class-conditional: give --y y.npy (int64, N labels)");
    const NpyArray ya = read_npy(args.y);
    if (!ya.int64 || ya.shape != std::vector<std::int64_t>{n})
      throw UsageError(str_cat("--y '", args.y, "': need an int64 array of ", n, " labels"));
    y.resize(std::size_t(n));
    std::memcpy(y.data(), ya.bytes.data(), ya.bytes.size());
  } else if (!args.y.empty()) {
    throw UsageError("--y: the model is unconditional");
  }
  std::vector<float> xs(x.bytes.size() / 4), ts(static_cast<std::size_t>(n)),
      out(static_cast<std::size_t>(n * w.net->outputs()));
  std::memcpy(xs.data(), x.bytes.data(), x.bytes.size());
  std::memcpy(ts.data(), t.bytes.data(), t.bytes.size());
  w.net->forward(Tensor(xs.data(), DType::F32, Shape{n, w.in_channels, w.side, w.side}), ts.data(),
                 y.empty() ? nullptr : y.data(), Tensor(out.data(), DType::F32, Shape{n, w.out_channels, w.side, w.side}));
  write_npy(args.out, DType::F32, {n, w.out_channels, w.side, w.side}, out.data());
  std::printf("carnot: %s forward of %lld samples written to %s\n", w.kind, (long long)n, args.out.c_str());
  return 0;
}

}  // namespace carnot
