#!/usr/bin/env python3
"""PyTorch 1.13's CPU speed on a PreAct-ResNet, to compare goodnet's CPU engine with.

Never run by the tests (they need no Python). Builds a PreAct-ResNet as BackdoorBench defines it
(conv1 → PreAct blocks → bn → relu → global average pooling → linear), random weights and BN
statistics, eval mode, and times the forward pass of batches of CIFAR-sized images:

    scripts/anchor/preact_torch.py --widths 16,32,64 --blocks 1,1,1     # the fixture's shape
    scripts/anchor/preact_torch.py --widths 64,128,256,512 --blocks 2,2,2,2   # PreAct-ResNet-18
    scripts/anchor/preact_torch.py ... --onnx /tmp/preact18.onnx          # also export it

prints one line per repeat and the median img/s. --onnx writes the same model with
torch.onnx.export (opset 13), for `goodnet bench --bad_model` on exactly this net.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        short = self.short(out) if self.short is not None else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + short


class PreActResNet(nn.Module):
    def __init__(self, widths, blocks, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        layers, cin = [], widths[0]
        for s, (w, b) in enumerate(zip(widths, blocks)):
            for i in range(b):
                layers.append(PreActBlock(cin, w, 2 if s > 0 and i == 0 else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.bn = nn.BatchNorm2d(cin)
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        out = self.layers(self.conv1(x))
        out = F.relu(self.bn(out))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="16,32,64")
    ap.add_argument("--blocks", default="1,1,1")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--onnx", default="")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    net = PreActResNet([int(w) for w in a.widths.split(",")], [int(b) for b in a.blocks.split(",")])
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.rand(a.batch, 3, 32, 32)
    if a.onnx:
        torch.onnx.export(net, x[:1], a.onnx, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
    with torch.no_grad():
        net(x)  # warm-up
        rates = []
        for r in range(a.repeats):
            t0 = time.perf_counter()
            net(x)
            dt = time.perf_counter() - t0
            rates.append(a.batch / dt)
            print(f"repeat {r}: {dt:.3f} s, {a.batch / dt:.1f} img/s")
    print(f"PyTorch {torch.__version__}, {a.threads} threads, batch {a.batch}, widths {a.widths}, blocks {a.blocks}: "
          f"median {statistics.median(rates):.1f} img/s")


if __name__ == "__main__":
    main()
