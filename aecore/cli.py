"""Command line: `python -m aecore train|evaluate|presets|runs`, the same code paths the app uses.

Flags map one to one onto the config dataclasses (`--latent-dim 8`, `--hidden 256,64`,
`--noise gaussian --noise-level 0.3`); a preset supplies the starting values.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Any, TextIO

from .config import DataConfig, ModelConfig, RunConfig, TrainConfig
from .data import DATASET_INFO
from .presets import PRESETS, get_preset

# flag -> (config section, field); the dataset and model kind get short names
_RENAMED = {"data": ("data", "name"), "model": ("model", "kind")}
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def _flags() -> dict[str, tuple[str, dataclasses.Field]]:
    flags: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            flag = next((k for k, v in _RENAMED.items() if v == (section, f.name)), f.name.replace("_", "-"))
            flags[flag] = (section, f)
    return flags


def _parse_value(f: dataclasses.Field, text: str) -> Any:
    kind = str(f.type)
    if "tuple" in kind:
        return tuple(int(v) for v in text.split(",") if v.strip())
    if kind == "bool":
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise argparse.ArgumentTypeError(f"--{f.name} takes true or false, got {text!r}")
        return text.lower() in ("1", "true", "yes")
    return {"int": int, "float": float}.get(kind, str)(text)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset (or the defaults) with every given flag applied."""
    cfg = get_preset(args.preset) if args.preset else RunConfig()
    changes: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for flag, (section, f) in _flags().items():
        value = getattr(args, flag.replace("-", "_"), None)
        if value is not None:
            changes[section][f.name] = _parse_value(f, value)
    if "kind" in changes["model"] and not args.preset:
        from .models import default_config

        cfg = dataclasses.replace(cfg, model=default_config(changes["model"]["kind"]))
    parts = {s: dataclasses.replace(getattr(cfg, s), **c) for s, c in changes.items()}
    return dataclasses.replace(cfg, **parts, name=args.name or cfg.name)


class ProgressBar:
    """A one-line terminal progress bar fed by TrainEvents."""

    def __init__(self, out: TextIO | None = None, width: int = 30):
        self.out, self.width, self.last = out or sys.stderr, width, 0.0

    def __call__(self, event) -> None:
        now = time.monotonic()
        if not event.epoch_end and event.step < event.total_steps and now - self.last < 0.1:
            return
        self.last = now
        done = int(self.width * event.step / event.total_steps)
        bar = "#" * done + "-" * (self.width - done)
        loss = event.logs.get("val_loss", event.logs.get("loss", float("nan")))
        label = "val loss" if "val_loss" in event.logs else "loss"
        self.out.write(f"\r[{bar}] epoch {event.epoch} step {event.step}/{event.total_steps} "
                       f"{label} {loss:.4f} {event.images_per_sec:,.0f} img/s")
        if event.epoch_end:
            self.out.write("\n")
        self.out.flush()


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """Rows of metrics as an aligned plain-text table."""
    cells = [[c for c in columns]] + [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:.1f}"
    return str(v)


def cmd_train(args: argparse.Namespace) -> int:
    from .device import pick_device, set_threads
    from .train import train_run

    cfg = config_from_args(args)
    set_threads()
    device = pick_device(args.device)
    print(f"training {cfg.model.kind} on {cfg.data.name} ({device})", file=sys.stderr)
    result = train_run(cfg, device, ProgressBar())
    h = result.history
    print(f"{h.status}: {h.steps} steps, {h.seconds:.1f} s, {h.images_per_sec:,.0f} img/s. {h.message}".rstrip(), file=sys.stderr)
    if not h.ok:
        return 1
    print(format_table([result.metrics], list(result.metrics)))
    if not args.no_save:
        from .runs import save_run

        info = save_run(result)
        print(f"saved run {info.id} ({info.name}) in {info.path}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .device import pick_device, set_threads
    from .metrics import evaluate
    from .runs import list_runs, load_model, load_run

    set_threads()
    device = pick_device(args.device)
    infos = [load_run(r) for r in args.runs] if args.runs else list_runs()
    if not infos:
        print("no saved runs: train one first with `python -m aecore train`", file=sys.stderr)
        return 1
    rows = []
    for info in infos:
        data = DataConfig(name=args.data) if args.data else info.config.data
        _, test = load_dataset(dataclasses.replace(data, limit_test=args.limit or 0))
        metrics = evaluate(load_model(info, device=device), test, device)
        rows.append({"run": info.id, "model": info.model_kind, "data": data.name, **metrics})
    print(format_table(rows, list(rows[0])))
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    for name, p in PRESETS.items():
        print(f"{name:14} {p.title}: {p.description}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from .runs import list_runs

    rows = [{"run": r.id, "name": r.name, "status": r.status, "model": r.model_kind, "data": r.dataset,
             "mse": r.metrics.get("mse", ""), "ssim": r.metrics.get("ssim", "")} for r in list_runs()]
    print(format_table(rows, ["run", "name", "status", "model", "data", "mse", "ssim"]) if rows else "no saved runs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aecore", description="Train and evaluate image autoencoders.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model and save it as a run")
    train.add_argument("--preset", choices=list(PRESETS), help="start from a named set-up")
    train.add_argument("--name", help="run name shown in the app")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    train.add_argument("--no-save", action="store_true", help="do not save the run")
    for flag, (section, f) in _flags().items():
        extra = f" ({', '.join(DATASET_INFO)})" if flag == "data" else ""
        train.add_argument(f"--{flag}", metavar=str(f.type).upper().replace("TUPLE[INT, ...]", "N,N"),
                           help=f"{section}.{f.name}, default {f.default!r}{extra}")
    train.set_defaults(func=cmd_train)
    ev = sub.add_parser("evaluate", help="print test metrics of saved runs")
    ev.add_argument("runs", nargs="*", help="run ids (default: every saved run)")
    ev.add_argument("--data", choices=list(DATASET_INFO), help="evaluate on this dataset instead of the run's own")
    ev.add_argument("--limit", type=int, help="use only the first N test images")
    ev.add_argument("--device", default="auto")
    ev.set_defaults(func=cmd_evaluate)
    sub.add_parser("presets", help="list the presets").set_defaults(func=cmd_presets)
    sub.add_parser("runs", help="list saved runs").set_defaults(func=cmd_runs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
