#!/usr/bin/python3
"""Interop with a real client: loads bnx's exported ResNet-50 (safetensors) into
torchvision.models.resnet50 with strict=True and checks that its logits equal bnx's.

The safetensors file is read with the small reader below (the documented format: 8-byte
little-endian header size, JSON header, packed little-endian data), since Debian has no
safetensors package; where the `safetensors` package is installed (the GPU machine), the model is
also loaded with its `load_file` and must give the same tensors.
Usage: torchvision_interop.py MODEL.safetensors IO.safetensors
"""
import json
import struct
import sys

import torch
import torchvision

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "F16": torch.float16,
          "BF16": torch.bfloat16, "I32": torch.int32, "U8": torch.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        raw = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(raw, dtype=DTYPES[entry["dtype"]]) if raw else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"])
    return tensors, meta


def main():
    state, meta = read_safetensors(sys.argv[1])
    io, _ = read_safetensors(sys.argv[2])
    assert meta.get("model") == "resnet50", meta
    assert state["bn1.num_batches_tracked"].dtype == torch.int64
    try:
        from safetensors.torch import load_file
    except ImportError:
        load_file = None
    if load_file is not None:
        loaded = load_file(sys.argv[1])
        assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state), "safetensors disagrees"
        print(f"the safetensors package read the same {len(loaded)} tensors")
    model = torchvision.models.resnet50()
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(io["input"])
    diff = (logits - io["logits"]).abs().max().item()
    print(f"torchvision resnet50 loaded {len(state)} tensors strictly; max |logits diff| = {diff:.3g}")
    assert diff < 1e-4, diff
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
