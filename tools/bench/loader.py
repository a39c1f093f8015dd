"""Python reference for `bnx bench loader`: torchvision ImageFolder + RandomResizedCrop(224) +
RandomHorizontalFlip + ToTensor + Normalize through a DataLoader (PIL decode), batches of 32."""
import json
import sys
import time

import torch
import torchvision
from torchvision import transforms

folder, images, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                         transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
ds = torchvision.datasets.ImageFolder(folder + "/train", tf)
ds = torch.utils.data.Subset(ds, range(min(images, len(ds))))
loader = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=workers, drop_last=True, shuffle=False)
t0 = time.perf_counter()
count = sum(x.shape[0] for x, _ in loader)
rate = count / (time.perf_counter() - t0)
print(json.dumps({"impl": "torchvision", "workers": workers, "images": count, "pipeline_img_s": rate}))
