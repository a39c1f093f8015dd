"""Python reference for the trainer benchmark: one epoch of Fashion-MNIST training plus evaluation
with the same model (BN-Inception, width 1/8, small-input stem), batch, optimizer and augmentation
(pad-2 random crop, flip) as configs/fashion_mnist/bn_inception_small.yaml, a DataLoader with the
same number of workers, and the same intra-op threads. Usage: epoch.py THREADS WORKERS
[channels_last]: PyTorch's default (NCHW) layout, or channels-last (bnx's default layout)."""
import gzip
import json
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bn_inception import BNInception  # noqa: E402

start = time.perf_counter()
threads, workers = int(sys.argv[1]), int(sys.argv[2])
channels_last = sys.argv[3:] == ["channels_last"]
torch.set_num_threads(threads)
root = "/usr/share/datasets/fashion-mnist/"


def idx(name, offset):
    with gzip.open(root + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


train_x = torch.from_numpy(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
train_y = torch.from_numpy(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
test_x = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).copy())
test_y = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))


class Data(torch.utils.data.Dataset):
    def __init__(self, x, y, train):
        self.x, self.y, self.train = x, y, train

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        img = (self.x[i].float() / 255 - 0.2860) / 0.3530
        if self.train:
            padded = torch.nn.functional.pad(img, (2, 2, 2, 2), value=(0 - 0.2860) / 0.3530)
            dy, dx = np.random.randint(0, 5, 2)
            img = padded[:, dy:dy + 28, dx:dx + 28]
            if np.random.rand() < 0.5:
                img = img.flip(2)
        return img, self.y[i]


torch.manual_seed(1)
model = BNInception(num_classes=10, in_channels=1, width=0.125, small_input=True)
layout = torch.channels_last if channels_last else torch.contiguous_format
model = model.to(memory_format=layout)
decay = [p for p in model.parameters() if p.dim() > 1]
no_decay = [p for p in model.parameters() if p.dim() <= 1]
opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-5}, {"params": no_decay, "weight_decay": 0}], lr=0.1,
                      momentum=0.9, nesterov=True)
steps = len(train_y) // 128
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * 0.5 * (1 + np.cos(np.pi * min(1.0, s / steps))))
loader = torch.utils.data.DataLoader(Data(train_x, train_y, True), batch_size=128, shuffle=True, drop_last=True,
                                     num_workers=workers, persistent_workers=False)
model.train()
for x, y in loader:
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x.contiguous(memory_format=layout)), y).backward()
    opt.step()
    sched.step()
model.eval()
correct = 0
with torch.no_grad():
    for x, y in torch.utils.data.DataLoader(Data(test_x, test_y, False), batch_size=500, num_workers=workers):
        correct += (model(x.contiguous(memory_format=layout)).argmax(1) == y).sum().item()
print(json.dumps({"impl": "pytorch", "wall_s": time.perf_counter() - start, "top1": correct / len(test_y)}))
