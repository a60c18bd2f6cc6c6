"""The PyTorch floor for benchmarks/pixels.py: one Atari PPO minibatch step on the Nature
CNN, alone, in the SB3 peer's virtualenv (torch 2.13.0 CPU); prints one JSON object on
its last line. xla_floor.py is the same step in XLA with Ascent's torso.

    taskset -c 0 benchmarks/envs/sb3/bin/python benchmarks/peers/torch_floor.py \\
        --batch 256 --repeats 20 --threads 1

The network is SB3's `CnnPolicy` for Atari: the Nature CNN (Mnih et al. 2015, Methods:
conv 32 8x8/4, 64 4x4/2, 64 3x3/1, dense 512, ReLU after each) on [B, 4, 84, 84] uint8
frames scaled by 1/255, shared by a policy head (n actions) and a value head. The step
is forward, a PPO-shaped loss (clipped ratio, value error, entropy), backward, gradient
clipping by global norm and Adam (eps 1e-5, as SB3's PPO), on one minibatch of random
frames. `step_ms` is the median of `--repeats` steps after `--warmup`; `act_ms` the
median forward pass alone, without gradients, on `--act-batch` frames (acting in 8
environments). It never imports Ascent.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=256, help="minibatch of frames")
    p.add_argument("--actions", type=int, default=4, help="policy outputs (Breakout: 4)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--act-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    return p.parse_args()


def main() -> None:
    args = parse()
    import torch
    from torch import nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    class Nature(nn.Module):
        def __init__(self, actions: int) -> None:
            super().__init__()
            self.torso = nn.Sequential(
                nn.Conv2d(4, 32, 8, stride=4), nn.ReLU(),
                nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
                nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
                nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(),
            )  # fmt: skip
            self.pi = nn.Linear(512, actions)
            self.v = nn.Linear(512, 1)

        def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.torso(frames.float() / 255.0)
            return self.pi(h), self.v(h).squeeze(-1)

    net = Nature(args.actions)
    opt = torch.optim.Adam(net.parameters(), lr=2.5e-4, eps=1e-5)
    b = args.batch
    frames = torch.randint(0, 256, (b, 4, 84, 84), dtype=torch.uint8)
    actions = torch.randint(0, args.actions, (b,))
    old_logp = torch.full((b,), -float(torch.log(torch.tensor(float(args.actions)))))
    adv, ret = torch.randn(b), torch.randn(b)

    def step() -> None:
        logits, value = net(frames)
        dist = torch.distributions.Categorical(logits=logits)
        ratio = torch.exp(dist.log_prob(actions) - old_logp)
        pg = -torch.min(ratio * adv, torch.clamp(ratio, 0.9, 1.1) * adv).mean()
        loss = pg + 0.5 * ((value - ret) ** 2).mean() - 0.01 * dist.entropy().mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 0.5)
        opt.step()

    act_frames = frames[: args.act_batch]

    def act() -> None:
        with torch.no_grad():
            net(act_frames)

    def median_ms(fn: object) -> tuple[float, list[float]]:
        for _ in range(args.warmup):
            fn()  # type: ignore[operator]
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times), times

    step_ms, step_times = median_ms(step)
    act_ms, _ = median_ms(act)
    print(
        json.dumps(
            {
                "library": "torch",
                "batch": b,
                "step_ms": step_ms,
                "step_ms_min": min(step_times),
                "frames_per_s": b / (step_ms / 1e3),
                "act_batch": args.act_batch,
                "act_ms": act_ms,
                "params": sum(p.numel() for p in net.parameters()),
                "repeats": args.repeats,
                "threads": torch.get_num_threads(),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "versions": {"torch": torch.__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
