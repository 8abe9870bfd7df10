#!/usr/bin/python3
"""Training speed of PyTorch on the lab's DeepID — the anchor goodnet's trainer is compared with.

Trains DeepID (55×47×3 input; conv_1 20 4×4, pool, conv_2 40 3×3, pool, conv_3 60 3×3, pool,
[flatten → fc_1 160] + [conv_4 80 2×2 → flatten → fc_2 160], add, relu, output) with Adam
(lr 1e-3), softmax cross-entropy, minibatches of --batch, on random images and labels, in
--threads threads (torch.set_num_threads). Flatten reads channels-last (h, w, c) as Keras does.
One warm-up epoch, then --epochs timed epochs of --images images each; prints one line per
epoch and the median images/s, and with --json one JSON object at the end.

With --finetune it does what `goodnet finetune` does instead (the recipe of package finetune):
AdamW (lr 3e-3, decoupled weight decay 5 — torch's AdamW shrinks each weight by lr·wd·w per
step, as goodnet does), the learning rate on a cosine from 3e-3 to 0 over all the steps of
--epochs, each image flipped left–right with probability 1/2 and shifted by ±2 pixels (zero
fill), --pruned channels of conv_3 held at zero (kernel slices and biases zeroed before
training and after every step); the images/s are then of the whole run after the warm-up
epoch, and per epoch.

Never run by the tests (Python is only for measuring). Debian's python3-torch 1.13:
    /usr/bin/python3 scripts/anchor/train_deepid.py --classes 1283
    /usr/bin/python3 scripts/anchor/train_deepid.py --classes 32
    /usr/bin/python3 scripts/anchor/train_deepid.py --classes 32 --finetune --images 320 --epochs 40 --pruned 38
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class DeepID(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv_1 = nn.Conv2d(3, 20, 4)
        self.conv_2 = nn.Conv2d(20, 40, 3)
        self.conv_3 = nn.Conv2d(40, 60, 3)
        self.conv_4 = nn.Conv2d(60, 80, 2)
        self.fc_1 = nn.Linear(5 * 4 * 60, 160)
        self.fc_2 = nn.Linear(4 * 3 * 80, 160)
        self.output = nn.Linear(160, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv_1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv_2(x)), 2)
        p3 = F.max_pool2d(F.relu(self.conv_3(x)), 2)
        c4 = F.relu(self.conv_4(p3))
        # Keras flattens channels-last: (h, w, c)
        f1 = self.fc_1(p3.permute(0, 2, 3, 1).flatten(1))
        f2 = self.fc_2(c4.permute(0, 2, 3, 1).flatten(1))
        return self.output(F.relu(f1 + f2))  # logits; the loss applies the softmax


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--classes", type=int, default=1283)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=2048, help="images per epoch")
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs (after one warm-up)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--finetune", action="store_true", help="goodnet finetune's recipe (see the top)")
    ap.add_argument("--pruned", type=int, default=38, help="with --finetune: conv_3 channels held at zero")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = DeepID(a.classes)
    x = torch.rand(a.images, 3, 55, 47) * 255
    y = torch.randint(0, a.classes, (a.images,))
    steps = a.images // a.batch
    if a.finetune:
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5)
        total_steps = (a.epochs + 1) * steps
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
        keep = torch.ones(60)
        keep[torch.randperm(60)[:a.pruned]] = 0

        def hold():
            with torch.no_grad():
                model.conv_3.weight.mul_(keep.view(60, 1, 1, 1))
                model.conv_3.bias.mul_(keep)
        hold()
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def augment(b):
        # flip with probability 1/2, shift by dy, dx in [-2, 2] with zero fill
        n = b.shape[0]
        flip = torch.rand(n) < 0.5
        b = torch.where(flip.view(n, 1, 1, 1), b.flip(3), b)
        padded = F.pad(b, (2, 2, 2, 2))
        d = torch.randint(0, 5, (n, 2))
        return torch.stack([padded[i, :, d[i, 0]:d[i, 0] + 55, d[i, 1]:d[i, 1] + 47] for i in range(n)])

    def epoch():
        perm = torch.randperm(a.images)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            opt.zero_grad(set_to_none=True)
            xb = x[idx] / 255
            if a.finetune:
                xb = augment(xb)
            loss = F.cross_entropy(model(xb), y[idx])
            loss.backward()
            opt.step()
            if a.finetune:
                sched.step()
                hold()
            total += loss.item()
        return steps * a.batch / (time.perf_counter() - t0), total / steps

    epoch()  # warm-up
    rates = []
    t0 = time.perf_counter()
    for e in range(a.epochs):
        r, loss = epoch()
        rates.append(r)
        print(f"pytorch epoch {e + 1}/{a.epochs}: {r:.0f} img/s (loss {loss:.3f})", flush=True)
    whole = a.epochs * steps * a.batch / (time.perf_counter() - t0)
    med = statistics.median(rates)
    what = f"fine-tune recipe ({a.pruned} of conv_3 held at 0)" if a.finetune else "Adam"
    print(f"pytorch {torch.__version__}, {a.threads} threads, DeepID {a.classes} classes, batch {a.batch}, {what}: "
          f"median {med:.0f} img/s [{min(rates):.0f}–{max(rates):.0f}], whole run {whole:.0f} img/s")
    if a.json:
        print(json.dumps({"framework": "pytorch " + torch.__version__, "threads": a.threads, "classes": a.classes,
                          "batch": a.batch, "images_per_epoch": steps * a.batch, "img_per_s": rates,
                          "median": med}))


if __name__ == "__main__":
    main()
