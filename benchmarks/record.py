"""What every benchmark record holds besides its rows: the commit measured, the command with
paths relative to the repository (so a record names no machine's folders), and the file itself."""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commit():
    # CARNOT_COMMIT: the commit the binaries were built from, where the tree's git is not that one
    # (the GPU host's copy of the working tree carries a stale .git).
    if os.environ.get("CARNOT_COMMIT"):
        return os.environ["CARNOT_COMMIT"]
    out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def command(script, argv):
    def portable(arg):
        if not os.path.isabs(arg):
            return arg
        rel = os.path.relpath(arg, ROOT)
        return os.path.basename(arg) if rel.startswith("..") else rel
    return " ".join([f"benchmarks/{script}"] + [portable(a) for a in argv])


def write(path, record):
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")
