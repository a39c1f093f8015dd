"""Python PyTorch eager reference for `bnx bench train`: images/s of full SGD training steps
(autocast forward, backward, update) of ResNet-50 (torchvision) or BN-Inception
(tools/bench/bn_inception.py), channels-last, synthetic normalized input already on the device.
Usage: train_step.py MODEL DEVICE PRECISION BATCH ITERATIONS [SIZE]   (PRECISION: fp32 | bf16 | fp16)"""
import json
import statistics
import sys
import time

import torch
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bn_inception import BNInception  # noqa: E402

name, device, precision, batch, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 224
torch.manual_seed(0)
torch.backends.cudnn.benchmark = True
model = (torchvision.models.resnet50() if name == "resnet50" else BNInception()).to(device)
model = model.to(memory_format=torch.channels_last).train()
sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 1000, (batch,), device=device)
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
print(json.dumps({"impl": "pytorch", "model": name, "device": device, "precision": precision, "batch_per_rank": batch,
                  "step_s": step, "images_per_s_per_rank": batch / step,
                  "device_name": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"}))
