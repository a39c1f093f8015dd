"""Generates an ImageNet-style folder of 500x375 quality-90 JPEGs (smooth random scenes with
texture, about the size and entropy of ImageNet photos) for the loader benchmark."""
import os
import sys

import numpy as np
from PIL import Image

out, count = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
for i in range(count):
    d = os.path.join(out, "train", "n%08d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((500, 375), Image.BICUBIC)
    img = np.asarray(coarse, dtype=np.float32) + rng.normal(0, 12, (375, 500, 3))
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(d, "img_%05d.JPEG" % i), quality=90)
