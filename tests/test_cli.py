import subprocess
import sys
from pathlib import Path

import pytest

from aecore.cli import build_parser, config_from_args, main
from aecore.presets import get_preset
from aecore.store.runs import list_runs

ROOT = Path(__file__).resolve().parents[1]


def test_flags_map_onto_the_config():
    args = build_parser().parse_args(["train", "--preset", "fashion-cnn", "--latent-dim", "8", "--hidden", "16,32",
                                      "--noise", "mask", "--noise-level", "0.25", "--epochs", "3", "--bf16", "true"])
    cfg = config_from_args(args)
    base = get_preset("fashion-cnn")
    assert cfg.model.kind == "conv_ae" and cfg.model.latent_dim == 8 and cfg.model.hidden == (16, 32)
    assert cfg.train.noise == "mask" and cfg.train.noise_level == 0.25 and cfg.train.epochs == 3 and cfg.train.bf16
    assert cfg.train.lr == base.train.lr and cfg.data == base.data


def test_model_flag_without_preset_takes_that_models_sizes():
    cfg = config_from_args(build_parser().parse_args(["train", "--model", "deep_mlp_ae"]))
    assert cfg.model.hidden == (256, 64) and cfg.model.latent_dim == 32


def test_train_then_evaluate_from_the_command_line(runs_dir, capsys):
    code = main(["train", "--preset", "mnist-64", "--epochs", "1", "--limit-train", "600", "--limit-test", "100"])
    out = capsys.readouterr()
    assert code == 0
    assert "mse" in out.out and "ssim" in out.out and "epoch 1" in out.err
    runs = list_runs()
    assert len(runs) == 1 and runs[0].config.model.hidden == ()
    assert main(["evaluate", runs[0].id, "--limit", "50"]) == 0
    table = capsys.readouterr().out
    assert runs[0].id in table and "psnr" in table


def one_error_line(err: str) -> str:
    """The single `error:` line of argparse's usage error; no traceback."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


BAD_FLAGS = [
    (["train", "--bf16", "maybe"], "argument --bf16: expected true or false"),
    (["train", "--epochs", "two"], "argument --epochs: expected a whole number"),
    (["train", "--epochs", "1.5"], "argument --epochs: expected a whole number"),
    (["train", "--batch-size", ""], "argument --batch-size: expected a whole number"),
    (["train", "--epochs", "0"], "epochs must be"),
    (["train", "--latent-dim", "99999"], "latent_dim must be"),
    (["train", "--limit-train", "-1"], "limit_train must be"),
    (["train", "--lr", "fast"], "argument --lr: expected a number"),
    (["train", "--lr", "nan"], "argument --lr: expected a number"),
    (["train", "--lr", "100"], "lr must be"),
    (["train", "--val-fraction", "0.9"], "val_fraction must be"),
    (["train", "--hidden", "256,x"], "argument --hidden: expected whole numbers"),
    (["train", "--hidden", "-4"], "hidden must be"),
    (["train", "--model", "transformer"], "invalid choice: 'transformer'"),
    (["train", "--data", "cifar"], "no dataset called 'cifar'"),
    (["train", "--noise", "pink"], "invalid choice: 'pink'"),
    (["train", "--activation", "swish"], "invalid choice: 'swish'"),
    (["train", "--recon-loss", "l1"], "invalid choice: 'l1'"),
    (["train", "--noise", "gaussian"], "needs a noise_level above 0"),
    (["train", "--recon-loss", "bce", "--output", "clamp"], "needs output 'sigmoid'"),
    (["train", "--preset", "nope"], "invalid choice: 'nope'"),
    (["train", "--device", "gpu"], "unknown device 'gpu'"),
    (["train", "--device", "cuda:99"], "cuda:99 is not available"),
    (["evaluate", "--limit", "-5"], "argument --limit: expected a whole number of at least 0"),
    (["evaluate", "--limit", "ten"], "argument --limit: expected a whole number"),
    (["evaluate", "--device", "gpu"], "unknown device 'gpu'"),
    (["evaluate", "--data", "cifar"], "no dataset called 'cifar'"),
]


@pytest.mark.parametrize("argv, message", BAD_FLAGS, ids=[" ".join(a) for a, _ in BAD_FLAGS])
def test_every_bad_flag_is_a_one_line_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv)
    captured = capsys.readouterr()
    assert exit.value.code == 2 and captured.out == ""
    assert message in one_error_line(captured.err)


@pytest.mark.parametrize("argv", [["train", "--bf16", "maybe"], ["train", "--device", "gpu"],
                                  ["train", "--epochs", "0"], ["evaluate", "--limit", "-5"]])
def test_bad_flags_from_the_real_command_line_exit_2_without_a_traceback(argv):
    out = subprocess.run([sys.executable, "-m", "aecore", *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    assert one_error_line(out.stderr).startswith("python -m aecore ")


def test_module_entry_point_runs(runs_dir):
    out = subprocess.run([sys.executable, "-m", "aecore", "train", "--max-steps", "2", "--limit-test", "20", "--no-save"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "no_better: 2 steps" in out.stderr and "warning: the run is marked no_better" in out.stderr


def test_a_real_training_run_prints_a_clean_progress_bar_and_its_own_status_line(runs_dir):
    # 64 images in batches of 32, no validation split, stopped one step into epoch 2: two epoch ends,
    # each with train_loss only
    out = subprocess.run([sys.executable, "-m", "aecore", "train", "--epochs", "3", "--max-steps", "3",
                          "--limit-train", "64", "--batch-size", "32", "--val-fraction", "0", "--limit-test", "20",
                          "--no-save"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    err = out.stderr
    assert "nan" not in err.lower(), err
    lines = err.split("\n")
    assert any(line.startswith("no_better: 3 steps") for line in lines), err  # not glued onto the bar
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1", "epoch 2"], err
    bar = next(line for line in lines if "3/3" in line)
    assert "epoch=2" in bar and "loss=" in bar and "img/s=" in bar, err
    assert "mse" in out.stdout and "ssim" in out.stdout


def test_progress_shows_the_epoch_train_loss_when_there_is_no_validation(capsys):
    from aecore.cli import Progress
    from aecore.train import TrainEvent

    progress = Progress()
    progress(TrainEvent(1, 1, 2, {"loss": 0.5, "mse": 0.5}, 100.0))
    progress(TrainEvent(1, 2, 3, {"epoch": 1.0, "train_loss": 0.25, "train_mse": 0.25, "seconds": 0.5}, 200.0,
                        epoch_end=True))
    progress(TrainEvent(2, 3, 3, {"loss": 0.2, "mse": 0.2}, 300.0))  # a run that ends mid-epoch, as a stop does
    progress.close()
    print("stopped: 3 steps", file=sys.stderr)
    err = capsys.readouterr().err
    assert "nan" not in err and "epoch 1: train loss 0.2500" in err
    assert "\nstopped: 3 steps\n" in err  # on its own line, after the bar
