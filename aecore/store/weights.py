"""How a run's weights file is read: a safetensors header checked within bounds, then against the model.

`model_from_weights(info, data, where)` parses the header by hand (bounded length, entries, ranks and dims,
offsets inside the data), builds the run's model on the meta device to compare every shape and dtype and to
count its parameters without allocating them, and only then reads the tensors into a model on the CPU.
"""

from __future__ import annotations

import json
import math
import reprlib
from typing import Any

import safetensors
import safetensors.torch
import torch
from torch import nn

from ..models import build_model
from .format import WEIGHTS, RunInfo
from .limits import MAX_DIM, MAX_HEADER, MAX_RANK, MAX_TENSORS, RunError, check_size

DTYPES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
          "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # safetensors' names and item sizes
TORCH_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
                torch.int64: "I64"}  # I64: batch norm's count of batches seen


def weights_header(data: bytes, where: str) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Dtype and shape by key from a safetensors file's header (8-byte little-endian length, then JSON).

    Parsed by hand within bounds on its length, entries, ranks and dims, and checked against the data that
    follows it, so nothing is built from a header that a small file cannot back.
    """
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    try:
        if not 2 <= size <= min(len(data) - 8, MAX_HEADER):
            raise ValueError(f"its header length {size} is beyond the file or the {MAX_HEADER // 2**20} MB bound")
        try:
            header = json.loads(data[8:8 + size])
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise ValueError(f"its header is not JSON ({reprlib.repr(str(err))})") from err
        if not isinstance(header, dict) or len(header) > MAX_TENSORS + 1:
            raise ValueError(f"its header must be an object of at most {MAX_TENSORS} entries")
        meta = header.pop("__metadata__", {})
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ValueError("its __metadata__ must map names to text")
        return {k: _tensor_entry(k, v, len(data) - 8 - size) for k, v in header.items()}
    except ValueError as err:
        kind = ("a zip archive as torch.save writes" if data[:2] == b"PK" else
                "a Python pickle" if data[:1] == b"\x80" else "something else")
        raise RunError(f"{where}: {WEIGHTS} is not a safetensors file ({err}; it looks like {kind}). It was not "
                       "opened: pickle-based files can run code when loaded. Save weights with save_run, which "
                       "writes safetensors") from err


def _tensor_entry(key: str, entry: Any, data_bytes: int) -> tuple[str, tuple[int, ...]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("dtype"), str) or entry["dtype"] not in DTYPES:
        raise ValueError(f"tensor {key!r} has no known dtype ({', '.join(DTYPES)})")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        raise ValueError(f"tensor {key!r} needs a shape of at most rank {MAX_RANK}, got {reprlib.repr(shape)}")
    if not all(type(d) is int and 0 <= d <= MAX_DIM for d in shape):
        raise ValueError(f"tensor {key!r} has shape {reprlib.repr(shape)}; dims are whole numbers up to {MAX_DIM}")
    nbytes = math.prod(shape) * DTYPES[entry["dtype"]]
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_bytes or offsets[1] - offsets[0] != nbytes):
        raise ValueError(f"tensor {key!r} has data_offsets {reprlib.repr(offsets)}, but needs {nbytes} bytes within "
                         f"the file's {data_bytes} bytes of data")
    return entry["dtype"], tuple(shape)


def check_against_model(info: RunInfo, header: dict[str, tuple[str, tuple[int, ...]]], where: str) -> None:
    """Check the weights header against the model in the run's config, built on the meta device.

    The meta device gives every shape and the parameter count without allocating anything, so a config that
    asks for terabytes costs nothing to refuse.
    """
    try:
        with torch.device("meta"):
            expected = build_model(info.config.model, info.input_shape).state_dict()
    except (ValueError, RuntimeError, TypeError) as err:
        raise RunError(f"{where}: the model in config.json cannot be built ({err}); train the run again") from err
    check_size(sum(t.numel() for t in expected.values()), where)
    missing, unexpected = sorted(expected.keys() - header.keys()), sorted(header.keys() - expected.keys())
    if missing or unexpected:
        raise RunError(f"{where}: {WEIGHTS} does not fit the model in config.json (missing keys: {missing[:5]}, "
                       f"unexpected keys: {unexpected[:5]}); the weights belong to another model")
    for key, tensor in expected.items():
        dtype, shape = header[key]
        if shape != tuple(tensor.shape):
            raise RunError(f"{where}: weight {key!r} has shape {list(shape)} but the model in config.json "
                           f"needs {list(tensor.shape)}; the weights belong to another configuration")
        if dtype != TORCH_DTYPES.get(tensor.dtype):
            raise RunError(f"{where}: weight {key!r} is stored as {dtype} but the model holds "
                           f"{TORCH_DTYPES.get(tensor.dtype, tensor.dtype)}; save the run again with save_run")


def model_from_weights(info: RunInfo, data: bytes, where: str) -> nn.Module:
    """The run's model with the weights in `data` (a whole safetensors file), checked before anything is built."""
    check_against_model(info, weights_header(data, where), where)
    try:
        state = safetensors.torch.load(data)
    except (safetensors.SafetensorError, RuntimeError, ValueError) as err:
        raise RunError(f"{where}: {WEIGHTS} is damaged ({err}); delete the run or import it again") from err
    broken = [k for k, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if broken:  # training never saves such a model (it diverged); every code and image it made would be NaN
        raise RunError(f"{where}: {WEIGHTS} holds NaN or infinite numbers (in {', '.join(broken[:3])}), so its codes "
                       "and images would contain NaN; train it again, or import a good copy")
    model = build_model(info.config.model, info.input_shape)  # on the CPU, now that its size is known and bounded
    model.load_state_dict(state, strict=True)
    check_finite_outputs(model, info.input_shape, where)
    return model


def check_finite_outputs(model: nn.Module, input_shape: tuple[int, int, int], where: str) -> None:
    """Refuse a model whose codes or images overflow to infinity or NaN on a few seeded inputs in [0, 1].

    Finite weights can still be large enough to overflow float32 (an edited or corrupted file); every page
    would then draw NaN, so the run is refused once, here, with the reason.
    """
    x = torch.rand(4, *input_shape, generator=torch.Generator().manual_seed(0))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        z = model.encode(x)
        x_hat = model.decode(z)
    model.train(was_training)
    if not (torch.isfinite(z).all() and torch.isfinite(x_hat).all()):
        raise RunError(f"{where}: its codes or images come out as NaN or infinity even for plain inputs (its weights "
                       "are far too large), so no page could show them; train it again, or import a good copy")
