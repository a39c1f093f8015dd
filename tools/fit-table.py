#!/usr/bin/env python3
"""How far each run fits its training set beyond what it generalizes: from each run's metrics.jsonl,
its best validation top-1, its lowest validation loss, and the means of validation and training
top-1 and loss over its last WINDOW steps, as a markdown table. A validation loss that rises from
its minimum while the training loss falls is the mark of overfitting. The training records are the
logged mini-batches in train mode (augmented images; dropout on where the config has it), so they
understate a dropout net's fit of the training set.

    tools/fit-table.py RUN_DIR... [--window 5000]
"""
import argparse
import json
import os
import sys


def mean(records, key):
    return sum(r[key] for r in records) / len(records) if records else float("nan")


def row(run_dir, window):
    records = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
    evals = [r for r in records if r.get("kind") == "eval"]
    trains = [r for r in records if r.get("kind") == "train"]
    if not evals:
        print(f"fit-table.py: {run_dir}/metrics.jsonl: no eval records", file=sys.stderr)
        sys.exit(2)
    best = max(evals, key=lambda r: r["top1"])  # the first of equal bests
    lowest = min(evals, key=lambda r: r["loss"])
    last = evals[-1]["step"]
    tail_evals = [r for r in evals if r["step"] > last - window]
    tail_trains = [r for r in trains if last - window < r["step"] <= last]
    return (f"| {os.path.basename(os.path.normpath(run_dir))} | {best['top1'] * 100:.2f}% ({best['step']:,}) "
            f"| {lowest['loss']:.3f} ({lowest['step']:,}) | {last:,} "
            f"| {mean(tail_evals, 'top1') * 100:.2f}% | {mean(tail_evals, 'loss'):.3f} "
            f"| {mean(tail_trains, 'top1') * 100:.2f}% | {mean(tail_trains, 'loss'):.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--window", type=int, default=5000, help="steps before the last evaluation")
    args = parser.parse_args()
    w = f"{args.window:,}"
    print(f"| run | best val top-1 (step) | lowest val loss (step) | last step | val top-1, last {w} steps "
          f"| val loss, last {w} | train top-1, last {w} | train loss, last {w} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for run_dir in args.runs:
        print(row(run_dir, args.window))


if __name__ == "__main__":
    main()
