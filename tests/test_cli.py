import subprocess
import sys
from pathlib import Path

from aecore.cli import build_parser, config_from_args, main
from aecore.presets import get_preset
from aecore.runs import list_runs

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


def test_bad_flags_give_a_message_and_exit_code(capsys):
    assert main(["train", "--epochs", "0"]) == 2
    assert "epochs must be" in capsys.readouterr().err


def test_module_entry_point_runs(runs_dir):
    out = subprocess.run([sys.executable, "-m", "aecore", "train", "--max-steps", "2", "--limit-test", "20", "--no-save"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "done: 2 steps" in out.stderr
