#!/usr/bin/env python3
"""Copies long runs' records into docs/reproduction/runs/ so that the next session (maybe on a fresh
machine) can regenerate the table with `bnx compare --seeds` and continue the unfinished ones: per
run its metrics.jsonl, config.yaml, run.json and newest checkpoint; and a README.md table of each
run's state (last step, best accuracy and where, plateau reached or not, wall time).

    tools/snapshot-runs.py RUNS_DIR [--out docs/reproduction/runs]
"""
import argparse
import glob
import json
import os
import shutil


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs")
    parser.add_argument("--out", default="docs/reproduction/runs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for run in sorted(glob.glob(os.path.join(args.runs, "*", "metrics.jsonl"))):
        folder = os.path.dirname(run)
        name = os.path.basename(folder)
        dest = os.path.join(args.out, name)
        os.makedirs(dest, exist_ok=True)
        for old in glob.glob(os.path.join(dest, "ckpt_*.bnx")):
            os.remove(old)
        for f in ("metrics.jsonl", "config.yaml", "run.json"):
            if os.path.exists(os.path.join(folder, f)):
                shutil.copy(os.path.join(folder, f), dest)
        ckpts = sorted(glob.glob(os.path.join(folder, "ckpt_*.bnx")))
        if ckpts:
            shutil.copy(ckpts[-1], dest)
        records = [json.loads(line) for line in open(run) if line.strip()]
        evals = [r for r in records if r["kind"] == "eval"]
        # Wall time: the sum over resumed segments (wall_time restarts at each resume).
        wall, last = 0.0, 0.0
        for r in records:
            if r["wall_time"] < last:
                wall += last
            last = r["wall_time"]
        wall += last
        best = max(evals, key=lambda r: r["top1"]) if evals else None
        log = folder + ".log"
        plateau = os.path.exists(log) and "plateau" in open(log).read()
        rows.append((name, records[-1]["step"] if records else 0, best, plateau, wall, ckpts[-1] if ckpts else ""))
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# Reproduction runs: state at the last snapshot\n\n")
        f.write("Written by `tools/snapshot-runs.py`. Each folder holds a run's metrics.jsonl, config.yaml, run.json\n")
        f.write("and newest checkpoint; continue one with `build/bnx train --config DIR/config.yaml --out runs/reproduce/NAME\n")
        f.write("--resume DIR/ckpt_*.bnx` (1 thread: `--set train.threads=1`, as they were run).\n\n")
        f.write("| run | last step | best top-1 | at step | plateau reached | wall time (h) |\n|---|---:|---:|---:|---|---:|\n")
        for name, step, best, plateau, wall, _ in rows:
            f.write("| %s | %d | %s | %s | %s | %.2f |\n" % (name, step, "%.2f%%" % (100 * best["top1"]) if best else "-",
                                                        best["step"] if best else "-", "yes" if plateau else "no", wall / 3600))
    print(open(os.path.join(args.out, "README.md")).read())


if __name__ == "__main__":
    main()
