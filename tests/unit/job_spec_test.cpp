// Every kind of bad job spec gets its own message naming file, line, column and key.
#include <gtest/gtest.h>

#include "framework/core/error.h"
#include "framework/io/job_spec.h"

namespace carnot {
namespace {

const char* kGood = R"(name: swissroll
seed: 0
data:      {kind: swissroll, noise: 0.5}
model:     {kind: mlp, hidden: 128, depth: 4, time_embed: 32}
diffusion: {schedule: linear, steps: 1000, objective: eps}
optimizer: {kind: adamw, lr: 1.0e-3, weight_decay: 0.0, betas: [0.9, 0.999], grad_clip: 1.0}
train:     {global_batch: 256, steps: 5000, ema: 0.999}
log:       {every: 50}
)";

// The message of the UsageError that parsing throws (fails the test if none).
std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_job_spec(yaml, "job.yaml", overrides);
  } catch (const UsageError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << yaml;
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(JobSpec, ParsesTheExampleSpec) {
  const JobSpec s = parse_job_spec(kGood, "job.yaml");
  EXPECT_EQ(s.name, "swissroll");
  EXPECT_DOUBLE_EQ(s.data.noise, 0.5);
  EXPECT_EQ(s.model.hidden, 128);
  EXPECT_EQ(s.diffusion.steps, 1000);
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 1e-3);
  EXPECT_DOUBLE_EQ(s.optimizer.beta2, 0.999);
  EXPECT_EQ(s.train.global_batch, 256);
  EXPECT_EQ(s.log.every, 50);
}

TEST(JobSpec, MisspelledKeyNamesLineColumnAndSuggestion) {
  const std::string msg = error_of(replace(kGood, "noise: 0.5", "nosie: 0.5"));
  EXPECT_NE(msg.find("job.yaml:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key 'data.nosie'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'data.noise'"), std::string::npos) << msg;
}

TEST(JobSpec, MisspelledSectionNamesLine) {
  const std::string msg = error_of(replace(kGood, "train:", "trian:"));
  EXPECT_NE(msg.find("job.yaml:7:1: unknown key 'trian' (did you mean 'train'?)"), std::string::npos) << msg;
}

TEST(JobSpec, UnknownKeyWithoutNearMatchListsAllowedKeys) {
  const std::string msg = error_of(replace(kGood, "log:       {every: 50}", "log:       {colour: red}"));
  EXPECT_NE(msg.find("job.yaml:8:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("allowed keys here: every"), std::string::npos) << msg;
}

TEST(JobSpec, WrongTypeNamesKeyAndValue) {
  const std::string msg = error_of(replace(kGood, "lr: 1.0e-3", "lr: fast"));
  EXPECT_NE(msg.find("job.yaml:6:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("optimizer.lr: expected a number, got 'fast'"), std::string::npos) << msg;
}

TEST(JobSpec, NonIntegerWhereIntegerExpected) {
  const std::string msg = error_of(replace(kGood, "steps: 5000", "steps: 5000.5"));
  EXPECT_NE(msg.find("job.yaml:7:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.steps: expected an integer, got '5000.5'"), std::string::npos) << msg;
  EXPECT_EQ(parse_job_spec(replace(kGood, "steps: 5000", "steps: 5e3"), "j").train.steps, 5000);
}

TEST(JobSpec, OutOfRangeNamesBound) {
  const std::string msg = error_of(replace(kGood, "global_batch: 256", "global_batch: 0"));
  EXPECT_NE(msg.find("job.yaml:7:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.global_batch: must be in [1, 16777216], got 0"), std::string::npos) << msg;
  const std::string lr = error_of(replace(kGood, "lr: 1.0e-3", "lr: -1"));
  EXPECT_NE(lr.find("optimizer.lr: must be > 0, got -1"), std::string::npos) << lr;
}

TEST(JobSpec, GradAccumAtMostTheBatch) {
  const std::string msg = error_of(replace(kGood, "ema: 0.999}", "ema: 0.999, grad_accum: 300}"));
  EXPECT_NE(msg.find("train.grad_accum: must not exceed train.global_batch (256), got 300"), std::string::npos) << msg;
  EXPECT_EQ(parse_job_spec(replace(kGood, "ema: 0.999}", "ema: 0.999, grad_accum: 4}"), "j").train.grad_accum, 4);
}

TEST(JobSpec, DebugFaultAndTimeout) {
  const std::string with_fault = std::string(kGood) + "debug: {fault: {rank: 1, step: 30, kind: hang}}\n";
  const JobSpec s = parse_job_spec(with_fault, "j");
  EXPECT_EQ(s.debug.fault_kind, "hang");
  EXPECT_EQ(s.debug.fault_rank, 1);
  EXPECT_EQ(s.debug.fault_step, 30);
  std::string msg = error_of(std::string(kGood) + "debug: {fault: {rank: 1, step: 30, kind: crash}}\n");
  EXPECT_NE(msg.find("debug.fault.kind: 'crash' is not one of: none, throw, exit, hang"), std::string::npos) << msg;
  msg = error_of(std::string(kGood) + "distributed: {timeout_s: 0}\n");
  EXPECT_NE(msg.find("distributed.timeout_s: must be in [1, 604800], got 0"), std::string::npos) << msg;
  // Neither changes the training, so a run may resume with them changed.
  EXPECT_TRUE(resume_incompatibilities(parse_job_spec(kGood, "j"), s).empty());
}

TEST(JobSpec, UnknownChoiceListsChoices) {
  const std::string msg = error_of(replace(kGood, "schedule: linear", "schedule: sigmoid"));
  EXPECT_NE(msg.find("job.yaml:5:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("diffusion.schedule: 'sigmoid' is not one of: linear, cosine, sohl2015, log_snr, flow, edm"), std::string::npos) << msg;
}

// The variance, loss and schedule keys that only make sense together are refused apart, each
// naming the key and what it needs.
TEST(JobSpec, DiffusionKeysThatNeedEachOther) {
  const std::string d = "diffusion: {schedule: linear, steps: 1000, objective: eps}";
  auto with = [&](const std::string& diffusion) { return error_of(replace(kGood, d, diffusion)); };
  std::string msg = with("diffusion: {schedule: linear, steps: 1000, variance: learned}");
  EXPECT_NE(msg.find("job.yaml:5:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("diffusion.variance: learned needs diffusion.loss vlb or hybrid"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: linear, steps: 1000, objective: v, loss: vlb}");
  EXPECT_NE(msg.find("diffusion.loss: vlb needs diffusion.objective eps (this is v)"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: linear, steps: 1000, loss: vlb, min_snr_gamma: 5}");
  EXPECT_NE(msg.find("diffusion.loss: vlb cannot be combined with diffusion.min_snr_gamma"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: linear, steps: 1000, loss: vlb, vlb_weight: 0.01}");
  EXPECT_NE(msg.find("diffusion.vlb_weight: only for diffusion.loss hybrid (this is vlb)"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: cosine, steps: 1000, log_snr_max: 8}");
  EXPECT_NE(msg.find("diffusion.log_snr_max: only for diffusion.schedule log_snr (this is cosine)"), std::string::npos)
      << msg;
  msg = with("diffusion: {schedule: log_snr, steps: 100, log_snr_max: 2, log_snr_min: 3}");
  EXPECT_NE(msg.find("diffusion.log_snr_min: must be below diffusion.log_snr_max (2), got 3"), std::string::npos) << msg;
  msg = error_of(replace(replace(kGood, d, "diffusion: {schedule: linear, steps: 1000, variance: learned, loss: vlb}"),
                         "data:      {kind: swissroll, noise: 0.5}", "data: {kind: gaussian, mean: [0], std: [1]}"),
                 {"model.kind=exact"});
  EXPECT_NE(msg.find("model.kind: exact has no learned variance"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: flow, steps: 100}");
  EXPECT_NE(msg.find("diffusion.schedule: flow needs diffusion.objective flow (the velocity ε − x0), not eps"),
            std::string::npos) << msg;
  msg = with("diffusion: {schedule: cosine, steps: 100, objective: flow}");
  EXPECT_NE(msg.find("diffusion.objective: flow needs diffusion.schedule flow (this is cosine)"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: flow, objective: flow, steps: 100, logit_normal_std: 2}");
  EXPECT_NE(msg.find("diffusion.logit_normal_std: only for diffusion.flow_times logit_normal (this is uniform)"),
            std::string::npos) << msg;
  msg = with("diffusion: {schedule: cosine, steps: 100, shift: 3}");
  EXPECT_NE(msg.find("diffusion.shift: only for diffusion.schedule flow (this is cosine)"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: flow, objective: flow, steps: 100, shift: 0}");
  EXPECT_NE(msg.find("diffusion.shift: must be in (0, 100]"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: flow, objective: flow, steps: 100, min_snr_gamma: 5}");
  EXPECT_NE(msg.find("diffusion.min_snr_gamma: is defined for VP schedules"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: edm, steps: 18}");
  EXPECT_NE(msg.find("diffusion.schedule: edm needs diffusion.objective edm (the preconditioned denoiser), not eps"),
            std::string::npos) << msg;
  msg = with("diffusion: {schedule: cosine, steps: 100, sigma_data: 0.5}");
  EXPECT_NE(msg.find("diffusion.sigma_data: only for diffusion.schedule edm (this is cosine)"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: edm, objective: edm, steps: 18, sigma_min: 5, sigma_max: 2}");
  EXPECT_NE(msg.find("diffusion.sigma_max: must be above diffusion.sigma_min (5), got 2"), std::string::npos) << msg;
  msg = with("diffusion: {schedule: edm, objective: edm, steps: 18, p_std: 0}");
  EXPECT_NE(msg.find("diffusion.p_std: must be > 0, got 0"), std::string::npos) << msg;
  const JobSpec edm = parse_job_spec(
      replace(kGood, d, "diffusion: {schedule: edm, objective: edm, steps: 18, sigma_data: 0.5, p_mean: -1, rho: 5}"), "j");
  const JobSpec edm_again = parse_job_spec(job_spec_to_yaml(edm), "again");
  EXPECT_EQ(edm_again.diffusion.sigma_data, 0.5);
  EXPECT_EQ(edm_again.diffusion.p_mean, -1);
  EXPECT_EQ(edm_again.diffusion.rho, 5);
  msg = with("diffusion: {schedule: linear, steps: 1000, loss: hybrid, variance: learned, betas: learned}");
  EXPECT_NE(msg.find("diffusion.betas: learned needs a discrete schedule and diffusion.loss vlb"), std::string::npos)
      << msg;
  EXPECT_EQ(parse_job_spec(job_spec_to_yaml(parse_job_spec(
                               replace(kGood, d, "diffusion: {schedule: sohl2015, steps: 40, loss: vlb, betas: learned}"),
                               "j")),
                           "again")
                .diffusion.betas,
            "learned");
  msg = error_of(replace(kGood, "data:      {kind: swissroll, noise: 0.5}", "data: {kind: swissroll, quantize: 8bit}"));
  EXPECT_NE(msg.find("data.quantize: 8bit is for data.kind gaussian or gaussian_mixture"), std::string::npos) << msg;
  msg = error_of(replace(replace(kGood, "data:      {kind: swissroll, noise: 0.5}",
                                 "data: {kind: gaussian, mean: [0], std: [0.3], quantize: 8bit}"),
                         d, "diffusion: {schedule: linear, steps: 1000, loss: vlb, variance: learned_full}"));
  EXPECT_NE(msg.find("diffusion.variance: learned_full has no discretised decoder for data.quantize 8bit"),
            std::string::npos) << msg;
  const JobSpec flow = parse_job_spec(replace(kGood, d, "diffusion: {schedule: flow, objective: flow, steps: 50, "
                                                        "flow_times: logit_normal, logit_normal_std: 0.5, shift: 3}"),
                                      "j");
  const JobSpec again = parse_job_spec(job_spec_to_yaml(flow), "again");
  EXPECT_EQ(again.diffusion.flow_times, "logit_normal");
  EXPECT_EQ(again.diffusion.logit_normal_std, 0.5);
  EXPECT_EQ(again.diffusion.flow_shift, 3);
  const JobSpec ok = parse_job_spec(
      replace(kGood, d, "diffusion: {schedule: log_snr, steps: 40, variance: learned, loss: hybrid, vlb_weight: 0.01}"),
      "j");
  EXPECT_EQ(ok.diffusion.variance, "learned");
  EXPECT_EQ(ok.diffusion.vlb_weight, 0.01);
  EXPECT_EQ(parse_job_spec(job_spec_to_yaml(ok), "again").diffusion.loss, "hybrid");  // round trip
}

TEST(JobSpec, YamlSyntaxErrorNamesLine) {
  const std::string msg = error_of(replace(kGood, "model:     {kind: mlp,", "model:     {kind: [mlp,"));
  EXPECT_NE(msg.find("job.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid YAML"), std::string::npos) << msg;
}

TEST(JobSpec, DuplicateKeyIsRefused) {
  const std::string msg = error_of(std::string(kGood) + "seed: 3\n");
  EXPECT_NE(msg.find("job.yaml:9:1: key 'seed' appears twice"), std::string::npos) << msg;
}

TEST(JobSpec, BetasMustBeAPairInRange) {
  const std::string pair = error_of(replace(kGood, "betas: [0.9, 0.999]", "betas: [0.9]"));
  EXPECT_NE(pair.find("optimizer.betas: expected a list of two numbers"), std::string::npos) << pair;
  const std::string range = error_of(replace(kGood, "betas: [0.9, 0.999]", "betas: [0.9, 1.5]"));
  EXPECT_NE(range.find("optimizer.betas[1]: must be in [0, 1), got 1.5"), std::string::npos) << range;
}

// SGD's keys and AdamW's are each refused under the other kind; SGD's round-trip.
TEST(JobSpec, OptimizerKindsOwnTheirKeys) {
  const std::string sgd_spec = replace(kGood, "kind: adamw, lr: 1.0e-3, weight_decay: 0.0, betas: [0.9, 0.999]",
                                       "kind: sgd, lr: 0.1, weight_decay: 0.0, momentum: 0.9, nesterov: true");
  const JobSpec s = parse_job_spec(sgd_spec, "job.yaml");
  EXPECT_EQ(s.optimizer.kind, "sgd");
  EXPECT_DOUBLE_EQ(s.optimizer.momentum, 0.9);
  EXPECT_TRUE(s.optimizer.nesterov);
  EXPECT_EQ(job_spec_to_yaml(parse_job_spec(job_spec_to_yaml(s), "resolved.yaml")), job_spec_to_yaml(s));
  const std::string betas = error_of(replace(kGood, "kind: adamw", "kind: sgd"));
  EXPECT_NE(betas.find("job.yaml:6:"), std::string::npos) << betas;
  EXPECT_NE(betas.find("optimizer.betas: is AdamW's; optimizer.kind sgd has none"), std::string::npos) << betas;
  const std::string momentum = error_of(kGood, {"optimizer.momentum=0.9"});
  EXPECT_NE(momentum.find("optimizer.momentum: is SGD's; optimizer.kind adamw has none"), std::string::npos) << momentum;
  const std::string nesterov = error_of(replace(sgd_spec, "momentum: 0.9, ", ""));
  EXPECT_NE(nesterov.find("optimizer.nesterov: needs optimizer.momentum > 0"), std::string::npos) << nesterov;
  const std::string range = error_of(sgd_spec, {"optimizer.momentum=1"});
  EXPECT_NE(range.find("optimizer.momentum: must be in [0, 1), got 1"), std::string::npos) << range;
}

TEST(JobSpec, MlpActivationAndNorm) {
  const JobSpec s = parse_job_spec(kGood, "job.yaml", {"model.activation=relu", "model.layer_norm=true"});
  EXPECT_EQ(s.model.activation, "relu");
  EXPECT_TRUE(s.model.layer_norm);
  EXPECT_EQ(job_spec_to_yaml(parse_job_spec(job_spec_to_yaml(s), "resolved.yaml")), job_spec_to_yaml(s));
  const std::string choice = error_of(kGood, {"model.activation=gelu"});
  EXPECT_NE(choice.find("model.activation"), std::string::npos) << choice;
  EXPECT_NE(choice.find("relu"), std::string::npos) << choice;
  const std::string pairs = error_of(kGood, {"model.pair_init_scale=1.5"});
  EXPECT_NE(pairs.find("model.pair_init_scale: an MLP has rescaling pairs only with model.activation relu"),
            std::string::npos) << pairs;
  EXPECT_DOUBLE_EQ(parse_job_spec(kGood, "job.yaml", {"model.activation=relu", "model.pair_init_scale=1.5"})
                       .model.pair_init_scale, 1.5);
  const std::string scale = error_of(kGood, {"model.pair_init_scale=0"});
  EXPECT_NE(scale.find("model.pair_init_scale: must be > 0"), std::string::npos) << scale;
  const std::string dit = error_of("name: a\ndata: {kind: fashion_mnist}\nmodel: {kind: dit, activation: relu}\n");
  EXPECT_NE(dit.find("job.yaml:3:"), std::string::npos) << dit;
  EXPECT_NE(dit.find("model.activation: only for model.kind mlp (this is dit)"), std::string::npos) << dit;
}

TEST(JobSpec, LearningRateSchedule) {
  const JobSpec s = parse_job_spec(kGood, "job.yaml", {"optimizer.warmup_steps=500", "optimizer.schedule=cosine",
                                                      "optimizer.min_lr=1e-5"});
  EXPECT_EQ(s.optimizer.warmup_steps, 500);
  EXPECT_EQ(s.optimizer.schedule, "cosine");
  EXPECT_EQ(job_spec_to_yaml(parse_job_spec(job_spec_to_yaml(s), "resolved.yaml")), job_spec_to_yaml(s));
  const std::string min_lr = error_of(kGood, {"optimizer.min_lr=1e-5"});
  EXPECT_NE(min_lr.find("optimizer.min_lr: only for optimizer.schedule cosine (this is constant)"), std::string::npos)
      << min_lr;
  const std::string above = error_of(kGood, {"optimizer.schedule=cosine", "optimizer.min_lr=0.5"});
  EXPECT_NE(above.find("optimizer.min_lr: must not exceed optimizer.lr (0.001), got 0.5"), std::string::npos) << above;
  const std::string which = error_of(kGood, {"optimizer.schedule=linear"});
  EXPECT_NE(which.find("optimizer.schedule"), std::string::npos) << which;
}

TEST(JobSpec, SectionMustBeAMapping) {
  const std::string msg = error_of(replace(kGood, "log:       {every: 50}", "log: 50"));
  EXPECT_NE(msg.find("job.yaml:8:6: log: expected a mapping of keys, got '50'"), std::string::npos) << msg;
}

TEST(JobSpec, MissingNameIsRefused) {
  const std::string msg = error_of(replace(kGood, "name: swissroll\n", ""));
  EXPECT_NE(msg.find("missing key 'name'"), std::string::npos) << msg;
  const std::string bad = error_of(replace(kGood, "name: swissroll", "name: ../etc"));
  EXPECT_NE(bad.find("job.yaml:1:7: name: must be"), std::string::npos) << bad;
}

TEST(JobSpec, OverridesApplyWithYamlValues) {
  const JobSpec s = parse_job_spec(kGood, "job.yaml",
                                   {"train.steps=300", "optimizer.betas=[0.5, 0.6]", "seed=9"});
  EXPECT_EQ(s.train.steps, 300);
  EXPECT_DOUBLE_EQ(s.optimizer.beta1, 0.5);
  EXPECT_DOUBLE_EQ(s.optimizer.beta2, 0.6);
  EXPECT_EQ(s.seed, 9u);
}

TEST(JobSpec, BadOverridesNameTheOverride) {
  const std::string unknown = error_of(kGood, {"train.stpes=3"});
  EXPECT_NE(unknown.find("--set 'train.stpes=3': unknown key 'train.stpes' (did you mean 'train.steps'?)"),
            std::string::npos) << unknown;
  const std::string type = error_of(kGood, {"data.noise=abc"});
  EXPECT_NE(type.find("--set 'data.noise=abc': data.noise: expected a number, got 'abc'"),
            std::string::npos) << type;
  EXPECT_NE(error_of(kGood, {"train.steps"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(error_of(kGood, {"train.steps="}).find("no value given"), std::string::npos);
  EXPECT_NE(error_of(kGood, {"seed.x=1"}).find("'seed' is a value, not a section"), std::string::npos);
}

TEST(JobSpec, ResolvedSpecRoundTrips) {
  JobSpec s = parse_job_spec(kGood, "job.yaml", {"optimizer.lr=2.5e-4", "data.noise=0.1"});
  const JobSpec back = parse_job_spec(job_spec_to_yaml(s), "resolved.yaml");
  EXPECT_EQ(job_spec_to_yaml(back), job_spec_to_yaml(s));
  EXPECT_DOUBLE_EQ(back.optimizer.lr, 2.5e-4);
  EXPECT_DOUBLE_EQ(back.data.noise, 0.1);
}

// Every image kind and DiT form survives the resolved spec that checkpoints keep and resumes reread.
TEST(JobSpec, ImageSpecsRoundTrip) {
  const char* specs[] = {
      "name: a\ndata: {kind: fashion_mnist, pad_to: 32, flip: true}\nmodel: {kind: dit, size: S, patch: 4}\n",
      "name: b\ndata: {kind: dead_leaves, image_size: 16}\nmodel: {kind: dit, hidden: 32, depth: 2, heads: 2}\n",
      "name: c\ndata: {kind: npy, path: x.npy, labels: y.npy, num_classes: 5, channels: 3, image_size: 8}\n"
      "model: {kind: dit, patch: 2, heads: 2, hidden: 16, class_dropout: 0}\n",
      "name: d\ndata: {kind: idx, path: x.gz, image_size: 28, pad_to: 32}\nmodel: {kind: mlp}\n",
      "name: e\ndata: {kind: fashion_mnist, pad_to: 32}\nmodel: {kind: unet, channels: 32, channel_mult: [1, 2, 2], "
      "res_blocks: 1, attention_resolutions: [8], dropout: 0.1, groups: 8, head_dim: 16, class_dropout: 0.2}\n",
      "name: f\ndata: {kind: dead_leaves, image_size: 16}\nmodel: {kind: unet, attention_resolutions: []}\n"};
  for (const char* text : specs) {
    const JobSpec s = parse_job_spec(text, "job.yaml");
    const std::string yaml = job_spec_to_yaml(s);
    JobSpec back;
    ASSERT_NO_THROW(back = parse_job_spec(yaml, "resolved.yaml")) << yaml;
    EXPECT_EQ(job_spec_to_yaml(back), yaml);
    EXPECT_EQ(back.data.dim(), s.data.dim()) << text;
  }
}

// model.kind unet: each shape its images cannot take is refused at its key, with the line.
TEST(JobSpec, UNetKeysCheckedAgainstTheImages) {
  const std::string base = "name: u\ndata: {kind: fashion_mnist, pad_to: 32}\nmodel: {kind: unet, channels: 32}\n";
  EXPECT_NO_THROW(parse_job_spec(base, "job.yaml"));
  std::string msg = error_of(replace(base, "channels: 32}", "channels: 32, channel_mult: [1, 2, 2, 2, 2, 2, 2]}"));
  EXPECT_NE(msg.find("job.yaml:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.channel_mult: 7 levels halve the side 6 times, but the image side 32 is not divisible by 64"),
            std::string::npos)
      << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 32, attention_resolutions: [12]}"));
  EXPECT_NE(msg.find("model.attention_resolutions: 12 is not the side of a level (32, 16, 8)"), std::string::npos) << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 24}"));
  EXPECT_NE(msg.find("model.groups: 32 groups do not divide level 0's 24 channels"), std::string::npos) << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 32, head_dim: 24}"));
  EXPECT_NE(msg.find("model.head_dim: 24 does not divide the 64 channels of level 1, which has attention"),
            std::string::npos)
      << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 32, hidden: 64}"));
  EXPECT_NE(msg.find("job.yaml:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.hidden: not for model.kind unet"), std::string::npos) << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 32, channel_mult: [1, 0]}"));
  EXPECT_NE(msg.find("model.channel_mult: each multiplier must be in [1, 64]"), std::string::npos) << msg;
  msg = error_of(replace(base, "channels: 32}", "channels: 32, channel_mult: 2}"));
  EXPECT_NE(msg.find("model.channel_mult: expected a non-empty list of integers, got '2'"), std::string::npos) << msg;
  msg = error_of("name: u\ndata: {kind: swissroll}\nmodel: {kind: unet}\n");
  EXPECT_NE(msg.find("unet needs image data"), std::string::npos) << msg;
  msg = error_of("name: u\ndata: {kind: swissroll}\nmodel: {kind: mlp, dropout: 0.1}\n");
  EXPECT_NE(msg.find("model.dropout: only for model.kind unet (this is mlp)"), std::string::npos) << msg;
}

}  // namespace
}  // namespace carnot
