"""The PyTorch reference hourglass, for ``python -m reprokit.bench`` only (never imported by the
package; needs ``torch``, which is not a dependency).

An independent PyTorch model of the CV701 baseline's topology, written from the facts in
docs/reference/hourglass.md §2.1 (bearpaw/pytorch-pose ``hg(num_stacks=2, num_blocks=1,
num_classes=16)`` = anibali ``hg2``, 6,730,912 parameters): pre-activation bottlenecks with
biases and a 1x1 projection skip, the 7x7/2 stem, depth-4 hourglasses, intermediate supervision.
It is timed the way the reference trains (channels-last input, as princeton-vl's ``permute``
gives; NCHW-contiguous input is 25 % slower on this CPU, docs/reference/hourglass.md §6), with
RMSprop and the summed per-stack MSE.
"""
from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn import functional as F

#: docs/reference/hourglass.md §1 (bearpaw ``main.py`` prints 6.73M)
BEARPAW_HG2_PARAMS = 6_730_912


class Bottleneck(nn.Module):
    """BN-ReLU-1x1-BN-ReLU-3x3-BN-ReLU-1x1 (expansion 2) plus a 1x1 projection when widths differ."""

    def __init__(self, inplanes: int, planes: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(inplanes), nn.Conv2d(inplanes, planes, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(planes), nn.Conv2d(planes, 2 * planes, 1)
        self.skip = nn.Conv2d(inplanes, 2 * planes, 1) if inplanes != 2 * planes else None

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.skip is None else self.skip(x))


class Hourglass(nn.Module):
    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.depth = depth
        half = channels // 2
        # per level: up branch, after the pool, before the upsample (+ the bottom block at level 0)
        self.levels = nn.ModuleList(
            nn.ModuleList(Bottleneck(channels, half) for _ in range(4 if level == 0 else 3))
            for level in range(depth))

    def _forward(self, level, x):
        blocks = self.levels[level]
        up = blocks[0](x)
        low = blocks[1](F.max_pool2d(x, 2))
        low = blocks[3](low) if level == 0 else self._forward(level - 1, low)
        low = blocks[2](low)
        return up + F.interpolate(low, scale_factor=2)

    def forward(self, x):
        return self._forward(self.depth - 1, x)


class HourglassNet(nn.Module):
    def __init__(self, num_stacks: int = 2, num_classes: int = 16, depth: int = 4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64), nn.ReLU())
        self.layer1, self.layer2 = Bottleneck(64, 64), Bottleneck(128, 128)
        self.layer3 = Bottleneck(256, 128)
        self.hg = nn.ModuleList(Hourglass(depth, 256) for _ in range(num_stacks))
        self.res = nn.ModuleList(Bottleneck(256, 128) for _ in range(num_stacks))
        self.fc = nn.ModuleList(nn.Sequential(nn.Conv2d(256, 256, 1), nn.BatchNorm2d(256), nn.ReLU())
                                for _ in range(num_stacks))
        self.score = nn.ModuleList(nn.Conv2d(256, num_classes, 1) for _ in range(num_stacks))
        self.fc_ = nn.ModuleList(nn.Conv2d(256, 256, 1) for _ in range(num_stacks - 1))
        self.score_ = nn.ModuleList(nn.Conv2d(num_classes, 256, 1) for _ in range(num_stacks - 1))

    def forward(self, x):
        x = self.layer3(self.layer2(F.max_pool2d(self.layer1(self.stem(x)), 2)))
        outs = []
        for s, hg in enumerate(self.hg):
            y = self.fc[s](self.res[s](hg(x)))
            score = self.score[s](y)
            outs.append(score)
            if s < len(self.hg) - 1:
                x = x + self.fc_[s](y) + self.score_[s](score)
        return outs


def bench(batch: int = 8, size: int = 256, steps: int = 5, latency_runs: int = 10,
          threads: int | None = None, precision: str = "float32") -> dict:
    """Seconds: model build, first and steady training steps at ``batch``; inference latency at
    batch 1 and throughput at ``batch`` (medians). ``precision="bfloat16"`` runs the forward
    passes under ``torch.autocast("cpu", torch.bfloat16)`` (float32 weights and optimizer, as
    Keras's ``mixed_bfloat16``)."""
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16")
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = HourglassNet().to(memory_format=torch.channels_last)
    n = sum(p.numel() for p in model.parameters())
    if n != BEARPAW_HG2_PARAMS:
        raise AssertionError(f"reference hg2 has {n:,} parameters, expected {BEARPAW_HG2_PARAMS:,}")
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen).to(memory_format=torch.channels_last)
    y = torch.rand(batch, 16, size // 4, size // 4, generator=gen)
    build = time.perf_counter() - t0

    def step():
        opt.zero_grad()
        with autocast:
            outs = model(x)
        loss = sum(F.mse_loss(o.float(), y) for o in outs)
        loss.backward()
        opt.step()

    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    model.eval()
    with torch.no_grad(), autocast:
        x1 = x[:1].contiguous(memory_format=torch.channels_last)
        model(x1)
        lat = []
        for _ in range(latency_runs):
            t = time.perf_counter()
            model(x1)
            lat.append(time.perf_counter() - t)
        t = time.perf_counter()
        model(x)
        throughput = batch / (time.perf_counter() - t)
    times.sort()
    lat.sort()
    return {"params": n, "build_s": build, "first_step_s": first + build,
            "step_s": times[len(times) // 2], "latency_s": lat[len(lat) // 2],
            "throughput": throughput, "torch": torch.__version__, "precision": precision}
