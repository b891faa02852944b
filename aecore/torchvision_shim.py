"""Import torchvision even where its wheel does not match the installed torch build.

`import_torchvision()` is the only place aecore imports torchvision. A CUDA build of torchvision
over a CPU build of torch fails at import with "operator torchvision::nms does not exist"
(pytorch/vision#9085): its compiled ops do not load, and registering fake kernels for `nms` and
`qnms` then needs their schemas. aecore uses only the datasets, which need no compiled op, so we
define the two schemas and import again.
"""

from __future__ import annotations

import sys
from types import ModuleType

import torch

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_libraries: list = []  # a torch.library.Library unregisters its schemas when collected


def import_torchvision() -> ModuleType:
    """Return the torchvision module, defining missing op schemas when its C ops failed to load."""
    try:
        import torchvision  # the import this module exists to retry, so it is made here and not at the top
        return torchvision
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _SCHEMAS:
        op = schema.split("(")[0]
        if not _has_schema(op):
            lib.define(schema)
    _libraries.append(lib)
    import torchvision  # again, now that the schemas its fake kernels need are defined

    return torchvision


def _has_schema(op: str) -> bool:
    try:
        torch._C._dispatch_find_schema_or_throw(f"torchvision::{op}", "")
        return True
    except RuntimeError:
        return False
