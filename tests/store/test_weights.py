"""The weights file of a run: its safetensors header checked within bounds and against the model, before anything is built."""

from __future__ import annotations

import json
import struct

import time
import pytest
import safetensors.torch
from run_zips import make_zip, run_files, small_run
from aecore.store import runs
from aecore.store.runs import RunError



def header_file(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def entry(shape: list, start: int = 0, dtype: str = "F32") -> dict:
    n = 1
    for s in shape:
        n *= s
    return {"dtype": dtype, "shape": shape, "data_offsets": [start, start + 4 * n]}


HEADERS = {
    "length beyond the file": (header_file({}, length=90 * 2**20), "header"),
    "length beyond the bound": (header_file(b" " * (2 * 2**20)), "header"),
    "nested lists": (header_file(b"[" * 100_000 + b"]" * 100_000), "safetensors"),
    "too many entries": (header_file({f"t{i}": entry([0]) for i in range(2000)}), "entries"),
    "rank 10000": (header_file({"w": {"dtype": "F32", "shape": [1] * 10_000, "data_offsets": [0, 4]}}, b"\0" * 4), "rank"),
    "huge dimension": (header_file({"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 4]}}, b"\0" * 4),
                       "shape"),
    "offsets beyond the data": (header_file({"w": entry([1000, 1000])}, b"\0" * 16), "offsets"),
    "unknown dtype": (header_file({"w": entry([2], dtype="X9")}, b"\0" * 8), "dtype"),
    "shape not a list": (header_file({"w": {"dtype": "F32", "shape": "ab", "data_offsets": [0, 8]}}, b"\0" * 8), "shape"),
    "metadata not strings": (header_file({"__metadata__": {"a": [1]}, "w": entry([2])}, b"\0" * 8), "metadata"),
}


@pytest.mark.parametrize("case", HEADERS)
def test_costly_or_malformed_weights_headers_are_refused(case, tmp_path):
    weights, message = HEADERS[case]
    info = small_run(tmp_path / "src")
    files = {**run_files(info), "weights.safetensors": weights}
    start = time.perf_counter()
    with pytest.raises(RunError, match=message):
        runs.import_run(make_zip(files), tmp_path / "dst")
    (info.path / "weights.safetensors").write_bytes(weights)
    with pytest.raises(RunError, match=message):
        runs.load_model(info.id, tmp_path / "src")
    assert time.perf_counter() - start < 2.0
    assert runs.list_runs(tmp_path / "dst") == []


def test_weights_must_be_float32_like_the_model(tmp_path):
    info = small_run(tmp_path / "src")
    state = safetensors.torch.load((info.path / "weights.safetensors").read_bytes())
    files = {**run_files(info), "weights.safetensors": safetensors.torch.save({k: v.double() for k, v in state.items()})}
    with pytest.raises(RunError, match="F64"):
        runs.import_run(make_zip(files), tmp_path / "dst")
