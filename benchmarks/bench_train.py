"""Training speed: aecore's `fit` against the classic tutorial loop, on one epoch of the full FashionMNIST.

    python benchmarks/bench_train.py [--root ../shared/datasets] [--models mlp_ae,conv_ae,vae] [--threads 2]
                                     [--repeats 3] [--profile STEPS] [--device cuda]

The classic loop is `torchvision.datasets.FashionMNIST` with `transforms.ToTensor()` per sample,
`DataLoader(batch_size=128, shuffle=True)` and plain Adam; `fit` trains the same model on the same
60,000 images. Both use batch 128, Adam 1e-3 and the model's own loss (MSE for the autoencoders).
Also printed: the fp32 matrix-multiply throughput of this machine, measured here, and the share of
it that `fit` reaches (FLOPs of one training step counted by torch's FlopCounterMode), and bf16
autocast with the loss it reaches next to fp32's. For a model below its target, one line says what bounds
it: the step time the target asks for against the time the model's matrix products, convolutions and the Adam
kernel take in fit (torch.profiler). `--profile` adds where fit's time goes, per operator.
`--device cuda` (or mps) runs both loops and the peak there; the classic loop moves each batch to the device and
reads each loss back, as the tutorials do. The bound lines and `--profile` read CPU time and are CPU-only.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecore.config import DataConfig, TrainConfig  # noqa: E402
from aecore.data import load_dataset  # noqa: E402
from aecore.config import default_config  # noqa: E402
from aecore.models import build_model  # noqa: E402
from aecore.train import fit  # noqa: E402
from aecore.torchvision_shim import import_torchvision  # noqa: E402

TARGETS = {"mlp_ae": 4.0, "conv_ae": 2.0, "vae": 3.0}  # x the classic loop
PEAK_TARGETS = {"mlp_ae": 0.6}  # share of the fp32 matmul peak


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer reads what it cost."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_gflops(device: torch.device, seconds: float = 2.0, n: int = 2048) -> float:
    """Best sustained fp32 GFLOP/s of square matrix products on this device (and thread count, on a CPU)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync(device)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def gemm_ceiling(model: torch.nn.Module, batch: int, peak: float, device: torch.device, repeats: int = 40,
                 rounds: int = 10) -> float:
    """Share of the peak that the step's own matrix products reach when timed alone, without anything else.

    Each Linear layer costs three products per step: the forward one, and the input and weight gradients.
    A training step cannot beat this share of the big square products' peak, however little else it does.
    """
    shapes = [(batch, m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    operands = []
    for b, i, o in shapes:
        operands += [(torch.randn(b, i, device=device), torch.randn(i, o, device=device)),
                     (torch.randn(b, o, device=device), torch.randn(o, i, device=device)),
                     (torch.randn(o, b, device=device), torch.randn(b, i, device=device))]
    seconds = math.inf
    for _ in range(rounds):  # the best round, like the peak: a busy neighbour only ever slows a round down
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            for a, w in operands:
                a @ w
        sync(device)
        seconds = min(seconds, (time.perf_counter() - start) / repeats)
    flops = sum(2 * b * i * o for b, i, o in shapes) * 3
    return flops / seconds / 1e9 / peak


def step_flops(model: torch.nn.Module, batch: int) -> int:
    """FLOPs of one forward + backward pass of the model's loss on a batch."""
    x = torch.rand(batch, 1, 28, 28)
    with FlopCounterMode(display=False) as counter:
        loss, _ = model.loss(x, x)
        loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def classic_epoch(kind: str, root: str, seed: int, device: torch.device) -> tuple[float, float]:
    """The tutorial loop: per-sample ToTensor through a DataLoader. Returns (images/s, last-100 mean loss)."""
    tv = import_torchvision()
    ds = tv.datasets.FashionMNIST(root, train=True, download=False, transform=tv.transforms.ToTensor())
    loader = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)
    torch.manual_seed(seed)
    model = build_model(default_config(kind), (1, 28, 28)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses, start = [], time.perf_counter()
    for x, _ in loader:
        x = x.to(device)
        loss, _ = model.loss(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    return len(ds) / seconds, sum(losses[-100:]) / len(losses[-100:])


def fit_epoch(kind: str, train, seed: int, device: torch.device, bf16: bool = False) -> tuple[float, float]:
    """aecore's fit on the same data. Returns (images/s, last-100 mean loss)."""
    torch.manual_seed(seed)
    model = build_model(default_config(kind), (1, 28, 28))
    losses: list[float] = []
    cfg = TrainConfig(epochs=1, batch_size=128, lr=1e-3, val_fraction=0.0, patience=0, seed=seed, bf16=bf16)
    history = fit(model, train, None, cfg, device, lambda e: e.epoch_end or losses.append(e.logs["loss"]))
    return history.images_per_sec, sum(losses[-100:]) / len(losses[-100:])


def profiled_fit(kind: str, train, seed: int, steps: int):
    """torch.profiler's record of `steps` steps of fit on the CPU, after a warm-up of five."""
    from torch.profiler import profile

    torch.manual_seed(seed)
    model = build_model(default_config(kind), (1, 28, 28))
    cfg = TrainConfig(epochs=1, batch_size=128, lr=1e-3, val_fraction=0.0, patience=0, seed=seed)
    fit(model, train.take(slice(0, 128 * 5)), None, cfg, "cpu")
    with profile() as prof:
        fit(model, train.take(slice(0, 128 * steps)), None, cfg, "cpu")
    return prof


def profile_fit(kind: str, train, seed: int, steps: int, rows: int = 12) -> str:
    """The table of the operators that take the most time in `steps` of fit."""
    return profiled_fit(kind, train, seed, steps).key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


# the model's own arithmetic and the Adam update (fused: one kernel for every parameter), which any loop runs
KERNELS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::convolution_backward", "aten::_convolution",
           "aten::mkldnn_convolution", "aten::_fused_adam_"}


def kernel_share(kind: str, train, seed: int, steps: int = 60) -> float:
    """Share of fit's CPU time (torch.profiler's self times over `steps` steps) spent in matrix products,
    convolutions and the Adam kernel: the part no loop around the model can shorten."""
    events = profiled_fit(kind, train, seed, steps).key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return sum(e.self_cpu_time_total for e in events if e.key in KERNELS) / total


def bound(kind: str, classic_ips: float, fit_ips: float, share: float) -> str:
    """What a speed target asks of one step of batch 128 against what the model's kernels take alone."""
    step, need = 128e3 / fit_ips, 128e3 / (TARGETS[kind] * classic_ips)  # ms
    kernels = share * step
    verdict = ("out of reach while those kernels run at this speed" if kernels >= need
               else f"{step - need:.1f} ms of the {step - kernels:.1f} ms outside them would have to go")
    return (f"{kind}: a fit step takes {step:.1f} ms, {kernels:.1f} ms ({share:.0%}) of it in matrix products, "
            f"convolutions and the Adam kernel; {TARGETS[kind]:g}x the classic loop needs {need:.1f} ms a step: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="../shared/datasets", help="torchvision root holding FashionMNIST/raw")
    parser.add_argument("--models", default="mlp_ae,conv_ae,vae")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1,
                        help="epochs per side, alternating; the best speed of each is kept (a shared VM's noise only slows)")
    parser.add_argument("--profile", type=int, default=0, metavar="STEPS",
                        help="also print torch.profiler's busiest operators over this many steps of fit per model")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps: where both loops train")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    on_cpu = device.type == "cpu"
    train, _ = load_dataset(DataConfig(name="fashion-mnist"), root=args.root)
    peak = matmul_gflops(device)
    print(f"FashionMNIST train: {len(train)} images; device {device}; {args.threads} threads; fp32 matmul peak {peak:.1f} GFLOP/s "
          "at the start (measured again before each model, the highest kept)\n")
    header = (f"{'model':8} {'classic img/s':>13} {'fit img/s':>10} {'ratio':>6} {'target':>6} "
              f"{'fit GFLOP/s':>11} {'of peak':>7} {'loss classic':>12} {'loss fit':>9} {'bf16 img/s':>10} {'loss bf16':>9}")
    print(header + "\n" + "-" * len(header))
    missed, bounds = [], []
    for kind in args.models.split(","):
        classic_ips, fit_ips = 0.0, 0.0
        peak = max(peak, matmul_gflops(device))  # a peak measured while a neighbour is busy reads low, and every share high
        for _ in range(args.repeats):  # same seed every time: the same losses, only the speed varies
            ips, classic_loss = classic_epoch(kind, args.root, args.seed, device)
            classic_ips = max(classic_ips, ips)
            ips, fit_loss = fit_epoch(kind, train, args.seed, device)
            fit_ips = max(fit_ips, ips)
        bf16_ips, bf16_loss = fit_epoch(kind, train, args.seed, device, bf16=True)
        gflops = step_flops(build_model(default_config(kind), (1, 28, 28)), 128) / 128 * fit_ips / 1e9
        ratio = fit_ips / classic_ips
        target = TARGETS.get(kind, 1.0)
        if ratio < target or gflops / peak < PEAK_TARGETS.get(kind, 0.0):
            missed.append(kind)
        if ratio < target:
            bounds.append((kind, classic_ips, fit_ips))
        print(f"{kind:8} {classic_ips:13,.0f} {fit_ips:10,.0f} {ratio:5.2f}x {target:5.1f}x {gflops:11.1f} "
              f"{gflops / peak:7.0%} {classic_loss:12.4f} {fit_loss:9.4f} {bf16_ips:10,.0f} {bf16_loss:9.4f}", flush=True)
    if "mlp_ae" in args.models.split(","):
        ceiling = gemm_ceiling(build_model(default_config("mlp_ae"), (1, 28, 28)), 128, peak, device)
        print(f"\nmlp_ae's own matrix products (batch 128), timed alone, reach {ceiling:.0%} of the peak: "
              "the ceiling for any training step of this model at this batch size on this machine.")
    print(f"\nfp32 matmul peak, highest measured: {peak:.1f} GFLOP/s")
    if bounds and on_cpu:
        print("\nwhat bounds the models below their target (kernel share from torch.profiler over 60 steps):")
        for kind, classic_ips, fit_ips in bounds:
            print("  " + bound(kind, classic_ips, fit_ips, kernel_share(kind, train, args.seed)))
    if args.profile and on_cpu:
        for kind in args.models.split(","):
            print(f"\n{kind}: where one fit epoch's time goes (torch.profiler, {args.profile} steps)")
            print(profile_fit(kind, train, args.seed, args.profile))
    if missed:
        print(f"\nbelow the speed target: {', '.join(missed)}")


if __name__ == "__main__":
    main()
