// carnot train JOB.yaml [--set k=v]... [--run-dir DIR] [--overwrite]
#include <memory>

#include "framework/cli/commands.h"
#include "framework/core/error.h"
#include "framework/dist/agree.h"
#include "framework/io/file_util.h"
#include "framework/io/job_spec.h"
#include "framework/train/model_weights.h"
#include "framework/train/trainer.h"
#include "kernels/cpu/threads.h"

namespace carnot {

JobSpec load_spec_on_all_ranks(Comm& comm, const std::string& path,
                               const std::vector<std::string>& overrides) {
  std::string text;
  run_on_root_and_agree(comm, [&] {
    try {
      text = read_file(path);
    } catch (const Error& e) {
      throw UsageError(std::string("cannot read job spec: ") + e.what());
    }
  });
  text = broadcast_string(comm, text);
  try {
    return parse_job_spec(text, path, overrides);
  } catch (Error& e) {
    e.mark_on_all_ranks();
    throw;
  }
}

int run_train(Comm& comm, const TrainArgs& args) {
  const JobSpec spec = load_spec_on_all_ranks(comm, args.job, args.overrides);
  const std::string dir = args.run_dir.empty() ? "runs/" + spec.name : args.run_dir;
  std::unique_ptr<RunFolder> folder;
  run_on_root_and_agree(comm, [&] {
    folder = std::make_unique<RunFolder>(dir, args.overwrite);
    folder->write_spec(job_spec_to_yaml(spec));
  });
  if (folder)
    folder->log(str_cat("carnot: ", comm.size(), " rank(s) × ", cpu::threads(),
                        " BLAS thread(s); run folder ", dir));

  Trainer trainer(spec, comm, cpu_ops());
  trainer.run(folder.get());

  run_on_root_and_agree(comm, [&] {
    const ParameterStore& store = trainer.model().params();
    save_weights(folder->final_dir() + "/model.safetensors", store, store.values(), spec.model);
    save_weights(folder->final_dir() + "/ema.safetensors", store, trainer.ema().weights(),
                 spec.model);
    folder->log(str_cat("carnot: final loss ", std::to_string(trainer.losses().back()), "; weights in ",
                        folder->final_dir(), "/{model,ema}.safetensors"));
  });
  return 0;
}

}  // namespace carnot
