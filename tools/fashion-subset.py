#!/usr/bin/env python3
"""Writes a subset of Fashion-MNIST as gzip IDX files (the layout bnx's idx data set reads), so that
the data travels with the device kit: the first N training images and labels, and the whole test set.

    tools/fashion-subset.py [--train 20000] [--src /usr/share/datasets/fashion-mnist] [--out .kit/data/fashion-mnist]
"""
import argparse
import gzip
import os
import struct


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return data[:4], shape, data[4 + 4 * dims:]


def write_idx(path, magic, shape, payload):
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(magic + struct.pack(">" + "I" * len(shape), *shape) + payload)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", default=".kit/data/fashion-mnist")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for split, keep in (("train", args.train), ("t10k", None)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = f"{split}-{kind}.gz"
            magic, shape, payload = read_idx(os.path.join(args.src, name))
            n = shape[0] if keep is None else min(keep, shape[0])
            per_item = len(payload) // shape[0]
            write_idx(os.path.join(args.out, name), magic, (n,) + tuple(shape[1:]), payload[:n * per_item])
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"fashion-subset: {args.train} training and all test images in {args.out} ({total / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
