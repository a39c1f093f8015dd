"""BN-Inception in Python PyTorch, built exactly as bnx's models/bn_inception.cpp (same layers,
widths, stems and parameter count), as the reference for the benchmarks; `baseline=True` builds the
paper's non-BN Inception (conv biases, LRN in the stem, dropout 0.4), as bnx's norm none, lrn, dropout."""
import torch
from torch import nn
import torch.nn.functional as F

TABLE = [  # name, #1x1, #3x3 reduce, #3x3, double reduce, double 3x3, pool proj, max pool, stride
    ("3a", 64, 64, 64, 64, 96, 32, False, 1), ("3b", 64, 64, 96, 64, 96, 64, False, 1),
    ("3c", 0, 128, 160, 64, 96, 0, True, 2), ("4a", 224, 64, 96, 96, 128, 128, False, 1),
    ("4b", 192, 96, 128, 96, 128, 128, False, 1), ("4c", 160, 128, 160, 128, 160, 128, False, 1),
    ("4d", 96, 128, 192, 160, 192, 128, False, 1), ("4e", 0, 128, 192, 192, 256, 0, True, 2),
    ("5a", 352, 192, 320, 160, 224, 128, False, 1), ("5b", 352, 192, 320, 192, 224, 128, True, 1)]


def scaled(c, w):
    return 0 if c == 0 else max(4, round(c * w))


class ConvBN(nn.Sequential):
    def __init__(self, i, o, k, s=1):
        super().__init__(nn.Conv2d(i, o, k, s, k // 2, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class ConvAct(nn.Sequential):  # the baseline's: conv with bias -> ReLU
    def __init__(self, i, o, k, s=1):
        super().__init__(nn.Conv2d(i, o, k, s, k // 2), nn.ReLU(inplace=True))


class Module(nn.Module):
    def __init__(self, i, spec, w, bn=True):
        super().__init__()
        _, a, b, bb, d, dd, p, self.max_pool, self.stride = spec
        layer = ConvBN if bn else ConvAct
        self.b1 = layer(i, scaled(a, w), 1) if a else None
        self.b3 = nn.Sequential(layer(i, scaled(b, w), 1), layer(scaled(b, w), scaled(bb, w), 3, self.stride))
        self.bd = nn.Sequential(layer(i, scaled(d, w), 1), layer(scaled(d, w), scaled(dd, w), 3),
                                layer(scaled(dd, w), scaled(dd, w), 3, self.stride))
        self.proj = layer(i, scaled(p, w), 1) if p else None
        self.out = (scaled(a, w) if a else 0) + scaled(bb, w) + scaled(dd, w) + (scaled(p, w) if p else i)

    def forward(self, x):
        pooled = F.max_pool2d(x, 3, self.stride, 1) if self.max_pool else F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        ys = ([self.b1(x)] if self.b1 is not None else []) + [self.b3(x), self.bd(x), self.proj(pooled) if self.proj is not None else pooled]
        return torch.cat(ys, 1)


class BNInception(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, width=1.0, small_input=False, baseline=False):
        super().__init__()
        c1, c2 = scaled(64, width), scaled(192, width)
        layer = ConvAct if baseline else ConvBN
        lrn = [nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)] if baseline else []
        if small_input:
            stem = [layer(in_channels, c1, 3)]
        else:
            stem = [nn.Conv2d(in_channels, in_channels * 8, 7, 2, 3, groups=in_channels, bias=False),
                    layer(in_channels * 8, c1, 1), nn.MaxPool2d(3, 2, 1)]
        self.stem = nn.Sequential(*stem, *lrn, layer(c1, c1, 1), layer(c1, c2, 3), *lrn, nn.MaxPool2d(3, 2, 1))
        blocks, c = [], c2
        for spec in TABLE:
            blocks.append(Module(c, spec, width, bn=not baseline))
            c = blocks[-1].out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(0.4) if baseline else nn.Identity()
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(self.dropout(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)))


if __name__ == "__main__":
    print(sum(p.numel() for p in BNInception().parameters()))
