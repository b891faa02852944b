"""The command line's datasets commands on real pictures: add a folder, list it, train on it by name, delete it."""

from __future__ import annotations

import pytest

from aecore.cli import main
from aecore.demo_pictures import write_demo_pictures
from aecore.store import collections


@pytest.fixture(autouse=True)
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("AECORE_DATASETS_DIR", str(tmp_path / "datasets"))
    monkeypatch.setenv("AECORE_RUNS_DIR", str(tmp_path / "runs"))


def test_add_list_train_by_name_and_delete(tmp_path, capsys):
    folder = write_demo_pictures(tmp_path / "photos", per_class=10)
    (folder / "cat" / "readme.md").write_text("# not a picture")
    assert main(["datasets", "add", "My photos", str(folder), "--size", "28"]) == 0
    out = capsys.readouterr().out
    assert "80 pictures" not in out and "skipped cat/readme.md" in out and "28x28 colour" in out
    (info,), _ = collections.list_all()
    assert main(["datasets"]) == 0
    assert f"{info.id}    My photos (your pictures" in capsys.readouterr().out
    assert main(["train", "--data", "my photos", "--model", "conv_ae", "--epochs", "2", "--no-save"]) == 0
    capsys.readouterr()
    assert main(["datasets", "delete", "My photos"]) == 0
    assert collections.list_all() == ([], [])
    with pytest.raises(SystemExit):
        main(["train", "--data", "My photos"])
    assert "no dataset called 'My photos'" in capsys.readouterr().err


def test_too_few_pictures_is_an_error_that_says_so(tmp_path, capsys):
    folder = write_demo_pictures(tmp_path / "photos", per_class=5)
    assert main(["datasets", "add", "Few", str(folder), "--grey"]) == 2
    assert "at least 50" in capsys.readouterr().err


def test_a_convolutional_model_on_64_px_pictures_gets_a_third_level_unless_layers_are_given(tmp_path):
    from aecore.cli import build_parser, config_from_args

    folder = write_demo_pictures(tmp_path / "photos", per_class=8)
    for size, hidden in ((64, (32, 64, 128)), (32, (32, 64))):
        assert main(["datasets", "add", f"Photos {size}", str(folder), "--size", str(size)]) == 0
        args = build_parser().parse_args(["train", "--data", f"Photos {size}", "--model", "conv_ae"])
        assert config_from_args(args).model.hidden == hidden
    args = build_parser().parse_args(["train", "--data", "Photos 64", "--model", "conv_ae", "--hidden", "16,32"])
    assert config_from_args(args).model.hidden == (16, 32)
