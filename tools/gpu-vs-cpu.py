"""Judges a GPU training run of configs/fashion_mnist/bn_x30.yaml (2,000 steps on the device kit's
Fashion-MNIST subset, tools/gpu-check.sh) against the CPU runs of the same config, data and
length in docs/gpu_reference/ (seeds 1 and 2, 1 thread; made with the command in its README).
Bit-equality is not expected: max-pool ties and cuDNN's kernels part the runs after a few steps
(the net is chaotic), so the GPU run agrees when it behaves like another CPU seed: its last
evaluation within 1 point of the CPU seeds' range and its mean training loss over steps 1001-2000
within 5% of theirs. Usage: gpu-vs-cpu.py GPU_METRICS_JSONL [REFERENCE_DIR]; prints one Markdown
paragraph; exit 1 when it does not agree."""
import glob
import json
import os
import statistics
import sys


def summary(path):
    rows = [json.loads(line) for line in open(path)]
    evals = [r for r in rows if r["kind"] == "eval" and r["step"] <= 2000]
    late = [r["loss"] for r in rows if r["kind"] == "train" and 1000 < r["step"] <= 2000]
    if not evals or not late:
        sys.exit(f"{path}: no evaluation or no training loss between steps 1001 and 2000")
    return evals[-1]["top1"], statistics.mean(late), evals[-1]["step"]


gpu_path = sys.argv[1]
ref_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "docs", "gpu_reference")
refs = sorted(glob.glob(os.path.join(ref_dir, "cpu_bn_x30_s*", "metrics.jsonl")))
if len(refs) < 2:
    sys.exit(f"{ref_dir}: expected the CPU reference runs cpu_bn_x30_s1 and _s2")
cpu = [summary(p) for p in refs]
top1, loss, step = summary(gpu_path)
lo, hi = min(c[0] for c in cpu), max(c[0] for c in cpu)
loss_lo, loss_hi = min(c[1] for c in cpu), max(c[1] for c in cpu)
acc_ok = lo - 0.01 <= top1 <= hi + 0.01
loss_ok = 0.95 * loss_lo <= loss <= 1.05 * loss_hi
print("GPU vs CPU (bn_x30, 2,000 steps on the kit's subset): GPU last evaluation %.2f%% (step %d), CPU seeds %s; "
      "GPU mean training loss over steps 1001-2000 %.4f, CPU seeds %s. Rule: within 1 point of the CPU seeds' "
      "accuracy range and within 5%% of their loss range: **%s**."
      % (100 * top1, step, " / ".join("%.2f%%" % (100 * c[0]) for c in cpu), loss,
         " / ".join("%.4f" % c[1] for c in cpu), "agrees" if acc_ok and loss_ok else "does NOT agree"))
sys.exit(0 if acc_ok and loss_ok else 1)
