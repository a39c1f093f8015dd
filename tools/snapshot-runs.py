#!/usr/bin/env python3
"""Copies long runs' records into docs/reproduction/runs/ so that the next session (maybe on a fresh
machine) can regenerate the table with `bnx compare --seeds` and continue the unfinished ones: per
run its metrics.jsonl, config.yaml, run.json and, unless its end is final (a plateau or a
divergence), its newest checkpoint: an unfinished run continues from it, and so does one stopped at
a target accuracy (continued to a higher one) or at its step cap (continued when the cap is raised);
without it such a run would start over from step 0; and a
README.md table of each run's state (last step, best accuracy and where, how it ended, wall time)
over every run in the output folder, so that runs committed earlier and not continued on this
machine keep their rows.

    tools/snapshot-runs.py RUNS_DIR [--out docs/reproduction/runs]
    tools/snapshot-runs.py --table SNAPSHOT_DIR...   only print the state table of committed runs
"""
import argparse
import glob
import json
import os
import re
import shutil


def rule_status(evals):
    """The plateau rule's two tests at the last evaluation, as train/eval_schedule.cpp computes them."""
    if not evals:
        return ""
    s = evals[-1]["step"]
    middle = [r["top1"] for r in evals if s < 3 * r["step"] <= 2 * s]
    last = [r["top1"] for r in evals if 3 * r["step"] > 2 * s]
    if not middle or not last:
        return ""
    best = max(evals, key=lambda r: r["top1"])  # the first of equal bests, as the C++ loop keeps
    gain = 100 * (sum(last) / len(last) - sum(middle) / len(middle))
    after = "after" if 3 * best["step"] > 2 * s else "before"
    return f"mean gain {gain:.2f} pt, best {after} 2s/3 = {2 * s // 3:,}"


def ended_kind(text):
    """How a run ended, from run.json's "ended" or an older run's log: plateau, target, steps,
    diverged, or "" while unfinished (a signal stopped it, or it runs)."""
    if text in ("plateau", "target", "steps", "diverged"):  # written below for an older run
        return text
    return ("plateau" if "plateau:" in text else "target" if "reached the target" in text
            else "steps" if text.startswith("finished:") else "diverged" if text.startswith("diverged:") else "")


def row_of(dest):
    """A README row for the snapshot folder `dest`: from its metrics.jsonl and run.json."""
    info = json.load(open(os.path.join(dest, "run.json"))) if os.path.exists(os.path.join(dest, "run.json")) else {}
    ended = ended_kind(info.get("ended", ""))
    records = [json.loads(line) for line in open(os.path.join(dest, "metrics.jsonl")) if line.strip()]
    evals = [r for r in records if r["kind"] == "eval"]
    # Wall time: the sum over resumed segments (wall_time restarts at each resume).
    wall, last = 0.0, 0.0
    for r in records:
        if r["wall_time"] < last:
            wall += last
        last = r["wall_time"]
    wall += last
    best = max(evals, key=lambda r: r["top1"]) if evals else None
    # Builds as run.json's segments record them (bnx from 2026-11-29; earlier ones: binaries.md).
    builds = ", ".join("%s from %d" % (g["bnx_commit"], g["from_step"]) for g in info.get("segments", []))
    return (os.path.basename(dest), records[-1]["step"] if records else 0, best, ended, wall,
            "" if ended else rule_status(evals), builds)


def table(rows, builds):
    """The state table of `rows` (row_of's tuples) as markdown lines; `builds` adds run.json's builds."""
    lines = ["| run | last step | best top-1 | at step | ended | wall time (h) | plateau rule now%s |"
             % (" | builds (run.json)" if builds else ""),
             "|---|---:|---:|---:|---|---:|---|%s" % ("---|" if builds else "")]
    for name, step, best, ended, wall, rule, built in rows:
        lines.append("| %s | %s | %s | %s | %s | %.2f | %s |%s" % (
            name, f"{step:,}", "%.2f%%" % (100 * best["top1"]) if best else "-",
            f"{best['step']:,}" if best else "-", {"steps": "step cap"}.get(ended, ended) or "running", wall / 3600, rule or "-",
            " %s |" % (built or "see binaries.md") if builds else ""))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", default="docs/reproduction/runs")
    parser.add_argument("--table", action="store_true",
                        help="print the state table of the runs already in the given snapshot folders; copy nothing")
    args = parser.parse_args()
    if args.table:
        rows = []
        for snapshot in args.runs:
            found = sorted(glob.glob(os.path.join(snapshot, "*", "metrics.jsonl")))
            if not found:
                parser.error(f"{snapshot}: no run folders (*/metrics.jsonl)")
            rows += [row_of(os.path.dirname(m)) for m in found]
        print("\n".join(table(rows, builds=False)))
        return
    if len(args.runs) != 1:
        parser.error("copies from one RUNS_DIR at a time (several are for --table)")
    args.runs = args.runs[0]
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
        # How it ended: run.json's "ended" (bnx after 2026-11-29), else the run's log beside its folder.
        info = json.load(open(os.path.join(folder, "run.json"))) if os.path.exists(os.path.join(folder, "run.json")) else {}
        log = folder + ".log"
        text = info.get("ended", "") or (open(log).read() if os.path.exists(log) else "")
        ended = ended_kind(text)
        if ended and not info.get("ended"):  # a run of an older bnx: record its end as bnx now does
            found = re.search(r"stopped at step \d+ \((.*)\); checkpoint", text)
            info["ended"] = found.group(1) if found else ended
            with open(os.path.join(dest, "run.json"), "w") as f:
                json.dump(info, f, indent=2)
                f.write("\n")
        ckpts = sorted(glob.glob(os.path.join(folder, "ckpt_*.bnx")))
        if ckpts and ended not in ("plateau", "diverged"):
            shutil.copy(ckpts[-1], dest)
    for dest in sorted(glob.glob(os.path.join(args.out, "*", "metrics.jsonl"))):
        rows.append(row_of(os.path.dirname(dest)))
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("# Reproduction runs: state at the last snapshot\n\n")
        f.write("Written by `tools/snapshot-runs.py`. Each folder holds a run's metrics.jsonl, config.yaml, run.json\n")
        f.write("and, unless it ended at a plateau or diverged, newest checkpoint; continue one with `build/bnx train --config DIR/config.yaml\n")
        f.write("--out runs/reproduce/NAME --resume DIR/ckpt_*.bnx` (1 thread: `--set train.threads=1`, as they were run).\n")
        f.write("Which bnx build ran which steps of each run: docs/reproduction/runs/binaries.md; how the lanes scheduled\n")
        f.write("them: docs/reproduction/runs/lanes.md (both kept by hand).\n\n")
        f.write("Plateau rule (train/eval_schedule.h) at a running run's last evaluation s: the mean gain of the last\n")
        f.write("third (2s/3, s] over the middle one (s/3, 2s/3] must be below 0.3 points and the best must lie at or\n")
        f.write("before 2s/3.\n\n")
        f.write("\n".join(table(rows, builds=True)) + "\n")
    print(open(os.path.join(args.out, "README.md")).read())


if __name__ == "__main__":
    main()
