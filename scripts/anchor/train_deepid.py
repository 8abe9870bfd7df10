#!/usr/bin/python3
"""Training speed of PyTorch on the lab's DeepID — the anchor goodnet's trainer is compared with.

Trains DeepID (55×47×3 input; conv_1 20 4×4, pool, conv_2 40 3×3, pool, conv_3 60 3×3, pool,
[flatten → fc_1 160] + [conv_4 80 2×2 → flatten → fc_2 160], add, relu, output) with Adam
(lr 1e-3), softmax cross-entropy, minibatches of --batch, on random images and labels, in
--threads threads (torch.set_num_threads). Flatten reads channels-last (h, w, c) as Keras does.
One warm-up epoch, then --epochs timed epochs of --images images each; prints one line per
epoch and the median images/s, and with --json one JSON object at the end.

Never run by the tests (Python is only for measuring). Debian's python3-torch 1.13:
    /usr/bin/python3 scripts/anchor/train_deepid.py --classes 1283
    /usr/bin/python3 scripts/anchor/train_deepid.py --classes 32
"""
import argparse
import json
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
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = DeepID(a.classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(a.images, 3, 55, 47) * 255
    y = torch.randint(0, a.classes, (a.images,))
    steps = a.images // a.batch

    def epoch():
        perm = torch.randperm(a.images)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(steps):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx] / 255), y[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        return steps * a.batch / (time.perf_counter() - t0), total / steps

    epoch()  # warm-up
    rates = []
    for e in range(a.epochs):
        r, loss = epoch()
        rates.append(r)
        print(f"pytorch epoch {e + 1}/{a.epochs}: {r:.0f} img/s (loss {loss:.3f})", flush=True)
    med = statistics.median(rates)
    print(f"pytorch {torch.__version__}, {a.threads} threads, DeepID {a.classes} classes, batch {a.batch}, Adam: "
          f"median {med:.0f} img/s [{min(rates):.0f}–{max(rates):.0f}]")
    if a.json:
        print(json.dumps({"framework": "pytorch " + torch.__version__, "threads": a.threads, "classes": a.classes,
                          "batch": a.batch, "images_per_epoch": steps * a.batch, "img_per_s": rates,
                          "median": med}))


if __name__ == "__main__":
    main()
