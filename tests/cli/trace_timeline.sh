#!/usr/bin/env bash
# train.trace: each of 2 ranks writes a Chrome-trace JSON with the phases of the first
# train.trace_steps steps: per micro-batch data, forward, loss, backward; per step the all-reduce,
# the optimizer and the step itself, which contains them; checkpoints inside the window; within
# each backward, one span per module in backward order (final_layer, blocks.3 ... blocks.0,
# input_proj, t_embedder), lying inside it.
source "$(dirname "$0")/common.sh"
mpi 2 "$CARNOT" train "$SRC/configs/swissroll.yaml" --run-dir run --set train.steps=30 --set train.trace=true \
  --set train.trace_steps=20 --set train.grad_accum=2 --set checkpoint.every=10 > train.txt \
  || { cat train.txt; fail "train"; }
grep -q "timeline of the first 20 steps" run/log.txt || fail "no log line"
"${PYTHON:-python3}" - <<'PY' || fail "trace files"
import json
from collections import Counter
for rank in (0, 1):
    events = [e for e in json.load(open(f"run/trace/rank{rank}.json"))["traceEvents"] if e["ph"] == "X"]
    count = Counter(e["name"] for e in events)
    modules = ["final_layer", "blocks.3", "blocks.2", "blocks.1", "blocks.0", "input_proj", "t_embedder"]
    want = {"data": 40, "forward": 40, "loss": 40, "backward": 40, "all-reduce": 20, "optimizer": 20, "step": 20,
            "checkpoint": 2, **{m: 40 for m in modules}}
    assert count == want, (rank, count)
    assert all(e["pid"] == rank and e["dur"] >= 0 for e in events)
    steps = {e["args"]["step"]: e for e in events if e["name"] == "step"}
    assert sorted(steps) == list(range(1, 21)), sorted(steps)
    for e in events:  # every phase of a step lies inside that step's span
        if e["name"] in ("step", "checkpoint"):
            continue
        s = steps[e["args"]["step"]]
        assert s["ts"] <= e["ts"] and e["ts"] + e["dur"] <= s["ts"] + s["dur"] + 1e-3, (e, s)
    backwards = [e for e in events if e["name"] == "backward"]
    spans = sorted((e for e in events if e["name"] in modules), key=lambda e: e["ts"])
    for i, b in enumerate(sorted(backwards, key=lambda e: e["ts"])):
        mine = spans[7 * i: 7 * i + 7]
        assert [e["name"] for e in mine] == modules, [e["name"] for e in mine]
        assert all(b["ts"] <= e["ts"] and e["ts"] + e["dur"] <= b["ts"] + b["dur"] + 1e-3 for e in mine), (b, mine)
    print(f"rank {rank}: {dict(count)}")
PY
echo "PASS"
