"""Python PyTorch eager reference for `bnx bench train`: images/s of full SGD training steps
(autocast forward, backward, update) of ResNet-50 (torchvision) or BN-Inception
(tools/bench/bn_inception.py), channels-last, synthetic normalized input already on the device.
Usage: train_step.py MODEL DEVICE PRECISION BATCH ITERATIONS [SIZE] [--width W] [--small-input]
                     [--channels C] [--classes K] [--threads T] [--compile] [--baseline]
                     (PRECISION: fp32 | bf16 | fp16; --baseline: the non-BN Inception of configs/*/inception.yaml)
The options describe a scaled BN-Inception as `bnx bench train --config` builds it from a training
config (for example the Fashion-MNIST one: --width 0.125 --small-input --channels 1 --classes 10, SIZE 28)."""
import argparse
import json
import statistics
import sys
import time

import torch
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bn_inception import BNInception  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("device")
parser.add_argument("precision", choices=["fp32", "bf16", "fp16"])
parser.add_argument("batch", type=int)
parser.add_argument("iterations", type=int)
parser.add_argument("size", type=int, nargs="?", default=224)
parser.add_argument("--width", type=float, default=1.0)
parser.add_argument("--small-input", action="store_true")
parser.add_argument("--channels", type=int, default=3)
parser.add_argument("--classes", type=int, default=1000)
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--baseline", action="store_true", help="bn_inception: the non-BN Inception baseline (bias, LRN, dropout)")
parser.add_argument("--compile", action="store_true", help="torch.compile the model (PyTorch 2); compiled in the warm-up")
args = parser.parse_args()
name, device, precision, batch, iterations, size = (args.model, args.device, args.precision, args.batch,
                                                    args.iterations, args.size)
if args.threads > 0:
    torch.set_num_threads(args.threads)
torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
model = (torchvision.models.resnet50(num_classes=args.classes) if name == "resnet50" else
         BNInception(args.classes, args.channels, args.width, args.small_input, args.baseline)).to(device)
model = model.to(memory_format=torch.channels_last).train()
if args.compile:
    model = torch.compile(model)
sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, args.channels, size, size, device=device).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, args.classes, (batch,), device=device)
dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
scaler = torch.cuda.amp.GradScaler() if precision == "fp16" else None


def sync():
    if device.startswith("cuda"):
        torch.cuda.synchronize()


times = []
for i in range(iterations + 3):
    sync()
    t0 = time.perf_counter()
    sgd.zero_grad()
    with torch.autocast(device.split(":")[0], dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    if scaler:
        scaler.scale(loss).backward()
        scaler.step(sgd)
        scaler.update()
    else:
        loss.backward()
        sgd.step()
    sync()
    if i >= 3:
        times.append(time.perf_counter() - t0)
step = statistics.median(times)
print(json.dumps({"impl": "pytorch-compile" if args.compile else "pytorch", "model": name, "device": device, "precision": precision, "batch_per_rank": batch,
                  "threads": torch.get_num_threads(),
                  "parameters": sum(p.numel() for p in model.parameters()), "step_s": step, "images_per_s_per_rank": batch / step,
                  "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
                  # GPU memory in use (context, cached blocks), as bnx reports it, and the allocator's peak
                  "device_memory_mb": (lambda m: (m[1] - m[0]) / 2**20)(torch.cuda.mem_get_info()) if device.startswith("cuda") else 0,
                  "max_reserved_mb": torch.cuda.max_memory_reserved() / 2**20 if device.startswith("cuda") else 0}))
