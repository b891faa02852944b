"""Command line: `python -m aecore train|evaluate|presets|runs`, the same code paths the app uses.

Flags map one to one onto the config dataclasses (`--latent-dim 8`, `--hidden 256,64`,
`--noise gaussian --noise-level 0.3`); a preset supplies the starting values. A bad value is argparse's
one-line usage error (exit status 2), whether the flag's text does not parse or the config refuses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

from tqdm import tqdm

from .config import (
    ACTIVATIONS,
    DATASET_NAMES,
    LR_SCHEDULES,
    MODEL_KINDS,
    NOISE_KINDS,
    NORMS,
    OUTPUTS,
    RECON_LOSSES,
    UPSAMPLES,
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    default_config,
)
from .data import load_dataset
from .dataset_commands import add_parsers as add_dataset_parsers
from .dataset_commands import dataset_name
from .device import pick_device, set_threads
from .machine_speed import calibrate, seconds_here
from .presets import PRESETS, get_preset, suited_to_side
from .scoring import evaluate
from .settings import check_device_name
from .store import collections
from .store.runs import RunError, list_runs, load_model, load_run, save_run
from .train import train_run

# flag -> (config section, field); the dataset and model kind get short names
_RENAMED = {"data": ("data", "name"), "model": ("model", "kind")}
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
_CHOICES = {("data", "name"): DATASET_NAMES, ("model", "kind"): MODEL_KINDS, ("model", "activation"): ACTIVATIONS,
            ("model", "output"): OUTPUTS, ("model", "recon_loss"): RECON_LOSSES, ("train", "noise"): NOISE_KINDS,
            ("model", "norm"): NORMS, ("model", "upsample"): UPSAMPLES, ("train", "lr_schedule"): LR_SCHEDULES}
_NOTES = {
    "patience": ": epochs without a min-delta drop in validation loss before stopping (0 = never); "
                "the epoch with the lowest validation loss is kept",
    "min-delta": ": the drop in validation loss that counts as better, in the loss's own unit: mean loss per "
                 "pixel for autoencoders (MSE about 0.02), nats per image for VAEs (about 250)",
}
_BOOLS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _flags() -> dict[str, tuple[str, dataclasses.Field]]:
    flags: dict[str, tuple[str, dataclasses.Field]] = {}
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            flag = next((k for k, v in _RENAMED.items() if v == (section, f.name)), f.name.replace("_", "-"))
            flags[flag] = (section, f)
    return flags


def _value_type(f: dataclasses.Field) -> Callable[[str], Any]:
    """The argparse `type=` of a config field's flag: its text as the field's type, or ArgumentTypeError."""
    kind = str(f.type)
    wanted = {"int": "a whole number", "float": "a number", "bool": "true or false"}.get(
        kind, "whole numbers separated by commas, such as 256,64" if "tuple" in kind else "text")

    def parse(text: str) -> Any:
        try:
            if "tuple" in kind:
                return tuple(int(v) for v in text.split(",") if v.strip())
            if kind == "bool":
                return _BOOLS[text.strip().lower()]
            if kind == "int":
                return int(text)
            if kind == "float":
                if math.isfinite(value := float(text)):
                    return value
                raise ValueError(text)
            return text
        except (KeyError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None

    return parse


def _count(text: str) -> int:
    """The argparse `type=` of a flag that takes a whole number of at least 0."""
    try:
        if (n := int(text)) >= 0:
            return n
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")


def _device(text: str) -> str:
    try:
        return check_device_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset (or the defaults) with every given flag applied; ValueError names a value the config refuses."""
    cfg = get_preset(args.preset) if args.preset else RunConfig()
    changes: dict[str, dict[str, Any]] = {s: {} for s in _SECTIONS}
    for flag, (section, f) in _flags().items():
        value = getattr(args, flag.replace("-", "_"), None)
        if value is not None:
            changes[section][f.name] = value
    if "kind" in changes["model"] and not args.preset:
        cfg = dataclasses.replace(cfg, model=default_config(changes["model"]["kind"]))
    parts = {s: dataclasses.replace(getattr(cfg, s), **c) for s, c in changes.items()}
    cfg = dataclasses.replace(cfg, **parts, name=args.name or cfg.name)
    if "hidden" not in changes["model"] and collections.is_collection_id(cfg.data.name):
        cfg = suited_to_side(cfg, collections.read_info(cfg.data.name).size)  # the layers given are kept
    return cfg


class Progress:
    """A tqdm bar of optimiser steps fed by TrainEvents (epoch, loss, img/s after it), and a line per epoch.

    Batch events log `loss`; epoch ends log `train_loss` and, with a validation split, `val_loss`.
    `close()` ends the bar's line, so what is printed next starts on a line of its own.
    """

    def __init__(self, out: TextIO | None = None):
        self.out = out or sys.stderr
        self.bar: tqdm | None = None

    def __call__(self, event) -> None:
        if self.bar is None:
            self.bar = tqdm(total=event.total_steps, file=self.out, unit="step", dynamic_ncols=True)
        logs = event.logs
        if event.epoch_end:
            val = f", val loss {logs['val_loss']:.4f}" if "val_loss" in logs else ""
            self.bar.write(f"epoch {event.epoch}: train loss {logs['train_loss']:.4f}{val}, "
                           f"{logs.get('seconds', 0.0):.1f} s", file=self.out)
        loss = logs["loss"] if "loss" in logs else logs.get("val_loss", logs.get("train_loss"))
        postfix = {"epoch": event.epoch, "loss": "" if loss is None else f"{loss:.4f}",
                   "img/s": f"{event.images_per_sec:,.0f}"}
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(event.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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

    cfg = config_from_args(args)
    set_threads()
    device = pick_device(args.device)
    print(f"training {cfg.model.kind} on {cfg.data.name} ({device})", file=sys.stderr)
    progress = Progress()
    try:
        result = train_run(cfg, device, on_event=progress)
    finally:
        progress.close()
    h = result.history
    print(f"{h.status}: {h.steps} steps, {h.seconds:.1f} s, {h.images_per_sec:,.0f} img/s. {h.message}".rstrip(), file=sys.stderr)
    if not h.finished:
        return 1
    print(format_table([result.metrics], list(result.metrics)))
    if not args.no_save:
        info = save_run(result, preview_images=result.preview_images)
        print(f"saved run {info.id} ({info.name}) in {info.path}", file=sys.stderr)
    if not h.ok:
        print(f"warning: the run is marked {h.status}; the app's pages that compare models leave it out", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:

    set_threads()
    device = pick_device(args.device)
    errors: list[RunError] = []
    infos = [] if args.runs else list_runs(errors=errors)
    for run_id in args.runs:
        try:
            infos.append(load_run(run_id))
        except RunError as err:
            errors.append(err)
    _warn(errors)
    if not infos and not errors:
        print("no saved runs: train one first with `python -m aecore train`", file=sys.stderr)
        return 1
    rows = []
    for info in infos:
        data = DataConfig(name=args.data) if args.data else info.config.data
        _, test = load_dataset(dataclasses.replace(data, limit_test=args.limit or 0))
        try:
            model = load_model(info, device=device)
        except RunError as err:
            _warn([err])
            continue
        rows.append({"run": info.id, "model": info.model_kind, "data": data.name, **evaluate(model, test, device)})
    if not rows:
        print("error: no run could be evaluated", file=sys.stderr)
        return 1
    print(format_table(rows, list(rows[0])))
    return 0


def _warn(errors: list) -> None:
    """One line on stderr per run that could not be read; the others go on."""
    for err in errors:
        print(f"warning: skipped {err}", file=sys.stderr)


def cmd_presets(args: argparse.Namespace) -> int:
    device = pick_device()
    if args.measure:
        set_threads()
        calibrate([p.config for p in PRESETS.values()], device)
    here = seconds_here({name: p.config for name, p in PRESETS.items()}, device)
    for name, p in PRESETS.items():
        time = f" (about {max(1, round(here[name]))} s here)" if name in here else ""
        print(f"{name:14} {p.title}{time}: {p.description}\n{'':14} {p.details}")
    if len(here) < len(PRESETS):
        print("\nHow long each preset takes on this computer is measured by `presets --measure` (about 10 s), or "
              "when the app's Train page first opens.")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:

    errors: list[RunError] = []
    rows = [{"run": r.id, "name": r.name, "status": r.status, "model": r.model_kind, "data": r.dataset,
             "mse": r.metrics.get("mse", ""), "ssim": r.metrics.get("ssim", "")} for r in list_runs(errors=errors)]
    _warn(errors)
    print(format_table(rows, ["run", "name", "status", "model", "data", "mse", "ssim"]) if rows else "no saved runs")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aecore", description="Train and evaluate image autoencoders.")
    sub = parser.add_subparsers(dest="command", required=True)
    # every config field is a flag: the usage line names them in general, --help one by one
    train = sub.add_parser("train", help="train a model and save it as a run",
                           usage="%(prog)s [--preset NAME] [--FLAG VALUE ...] (see --help)")
    train.add_argument("--preset", choices=list(PRESETS), help="start from a named set-up")
    train.add_argument("--name", help="run name shown in the app")
    train.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda, cuda:N or mps")
    train.add_argument("--no-save", action="store_true", help="do not save the run")
    for flag, (section, f) in _flags().items():
        choices = _CHOICES.get((section, f.name))
        metavar = None if choices else str(f.type).upper().replace("TUPLE[INT, ...]", "N,N")
        if (section, f.name) == ("data", "name"):  # a built-in dataset, or a picture collection's name or id
            train.add_argument(f"--{flag}", type=dataset_name, metavar="NAME",
                               help=f"data.name, default {f.default!r}: one of {', '.join(choices)}, or the name "
                                    "of your own pictures (python -m aecore datasets)")
            continue
        train.add_argument(f"--{flag}", type=_value_type(f), choices=choices, metavar=metavar,
                           help=f"{section}.{f.name}, default {f.default!r}{_NOTES.get(flag, '')}")
    train.set_defaults(func=cmd_train, usage_error=train.error)
    ev = sub.add_parser("evaluate", help="print test metrics of saved runs")
    ev.add_argument("runs", nargs="*", help="run ids (default: every saved run)")
    ev.add_argument("--data", type=dataset_name, metavar="NAME",
                    help="evaluate on this dataset (built in, or your pictures) instead of the run's own")
    ev.add_argument("--limit", type=_count, help="use only the first N test images")
    ev.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda, cuda:N or mps")
    ev.set_defaults(func=cmd_evaluate, usage_error=ev.error)
    presets = sub.add_parser("presets", help="list the presets, with how long each takes here once measured")
    presets.add_argument("--measure", action="store_true",
                         help="first measure how long each preset takes on this computer (about 10 s)")
    presets.set_defaults(func=cmd_presets)
    sub.add_parser("runs", help="list saved runs").set_defaults(func=cmd_runs)
    add_dataset_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # values each fine alone can still be refused together (noise without a level) or name a device
    # this machine lacks: argparse's usage error too, before any data loads
    try:
        if args.command == "train":
            config_from_args(args)
        if hasattr(args, "device"):
            pick_device(args.device)
    except ValueError as err:
        args.usage_error(str(err))
    try:
        return args.func(args)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
