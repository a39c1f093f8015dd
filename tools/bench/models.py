"""Python PyTorch reference for `bnx bench MODEL`: forward and forward+backward time of ResNet-50
(torchvision) and BN-Inception (tools/bench/bn_inception.py) at 224 px, batch 16, float32.
Usage: models.py MODEL ITERATIONS THREADS [channels_last]: the model and its input in PyTorch's
default (NCHW) layout, or channels-last (bnx's default layout)."""
import json
import statistics
import sys
import time

import torch
import torchvision

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bn_inception import BNInception  # noqa: E402

name, iterations, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
channels_last = sys.argv[4:] == ["channels_last"]
torch.set_num_threads(threads)
torch.manual_seed(0)
model = torchvision.models.resnet50() if name == "resnet50" else BNInception()
model.train()
x = torch.randn(16, 3, 224, 224)
if channels_last:
    model = model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 1000, (16,))
fwd, fwdbwd = [], []
for i in range(iterations + 2):
    t0 = time.perf_counter()
    with torch.no_grad():
        model(x)
    f = time.perf_counter() - t0
    model.zero_grad()
    t0 = time.perf_counter()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    fb = time.perf_counter() - t0
    if i >= 2:
        fwd.append(f)
        fwdbwd.append(fb)
print(json.dumps({"impl": "pytorch", "model": name, "parameters": sum(p.numel() for p in model.parameters()),
                  "forward_s": statistics.median(fwd), "forward_backward_s": statistics.median(fwdbwd)}))
