"""Why something failed, in plain words that point the right way: `os_reason(err)`, `failure_advice(err)`.

A full disk is not a permissions problem, and neither is a setting: every message that follows a failed
save, rename, delete or training job names the real cause, read from the error's `errno` (or the error it
was raised from), and says what to do next.
"""

from __future__ import annotations

import errno

from .data import DatasetUnavailable

OS_REASONS = {
    errno.ENOSPC: "the disk is full; free some space (delete runs you no longer need) and try again",
    errno.EDQUOT: "the disk quota is used up; free some space (delete runs you no longer need) and try again",
    errno.EROFS: "the folder is on a read-only disk; set AECORE_RUNS_DIR to a folder the app can write to",
    errno.EACCES: "the app may not write there; check the folder's permissions",
    errno.EPERM: "the app may not write there; check the folder's permissions",
    errno.EMFILE: "the server has too many files open; try again in a moment",
    errno.EIO: "the disk reported a read or write error; check the disk",
}
GENERIC_ADVICE = ("Training stopped with an error, and nothing was saved. Check the settings, or choose a bundled "
                  "sample dataset, and click Train again.")


def os_reason(err: OSError) -> str:
    """What went wrong and what to do, for an OSError: its errno in words, else its own description."""
    return OS_REASONS.get(err.errno, f"{err.strerror or err}; check free space and the folder's permissions")


def os_error_in(err: BaseException) -> OSError | None:
    """The OSError `err` is or was raised from (through `raise ... from`), if any."""
    seen = 0
    while err is not None and seen < 16:
        if isinstance(err, OSError) and err.errno is not None:
            return err
        err, seen = err.__cause__ or err.__context__, seen + 1
    return None


def failure_advice(err: BaseException) -> str:
    """One plain sentence for a person whose training job failed with `err`: the cause first, then what to do."""
    if isinstance(err, DatasetUnavailable):
        return "The images could not be loaded, so nothing was trained. Choose a bundled sample dataset, or fix the " \
               "dataset as the details say, and click Train again."
    if (os_err := os_error_in(err)) is not None:
        return f"Nothing was saved: {os_reason(os_err)}."
    if isinstance(err, MemoryError):
        return "The computer ran out of memory. Choose a smaller model, batch or code size, and click Train again."
    return GENERIC_ADVICE
