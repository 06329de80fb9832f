// The score network a job spec describes, of any kind: the configs per kind and one factory, so the
// trainer, sample/eval, export and validate build the same network from the same spec.
#pragma once
#include <cstdint>
#include <memory>

#include "framework/io/job_spec.h"
#include "framework/nn/dit.h"
#include "framework/nn/mlp_score_net.h"
#include "framework/nn/unet.h"

namespace carnot {

// model.kind mlp: ε̂, then any learned variance's parameters.
MlpConfig mlp_config(const JobSpec& spec);
// model.kind dit: the DiT for the spec's images (learned σ when diffusion.variance is learned).
DitConfig dit_config(const JobSpec& spec);
// model.kind unet: DDPM's U-Net for the spec's images (likewise).
UNetConfig unet_config(const JobSpec& spec);

// A network for up to max_rows samples per call, parameters initialised from seed; throws when the
// data's shape disagrees with the model's. model.kind exact has none.
// dtype: what the network computes in (float32; bfloat16 for train.precision bf16).
std::unique_ptr<ScoreNetwork> make_score_network(const JobSpec& spec, Ops& ops, std::int64_t max_rows,
                                                 std::uint64_t seed, DType dtype = DType::F32);

}  // namespace carnot
