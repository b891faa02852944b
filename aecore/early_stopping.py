"""Early stopping for `fit`: which epoch to keep and when to stop waiting for a better one.

The epoch kept is the one with the lowest monitored loss (validation loss, else training loss); the wait ends
after `patience` epochs without a fall of at least `min_delta` below the last loss that counted as better.
`min_delta` decides only how long to wait, never which epoch is kept.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from torch import nn


@dataclass
class EarlyStopping:
    """The running record of one fit: the best epoch so far (and its weights, with patience) and the wait."""

    patience: int  # 0: never stop early, and keep the last epoch
    min_delta: float
    lowest: float = math.inf
    best_epoch: int = 0
    best_state: dict | None = None
    reference: float = math.inf  # the last loss that improved by min_delta
    waited: int = 0  # epochs since then

    def update(self, model: nn.Module, epoch: int, monitored: float) -> None:
        """Record one epoch's monitored loss, copying the weights when it is the lowest yet (with patience)."""
        if monitored < self.lowest:
            self.lowest, self.best_epoch = monitored, epoch
            self.best_state = copy.deepcopy(model.state_dict()) if self.patience else None
        if monitored < self.reference - self.min_delta:
            self.reference, self.waited = monitored, 0
        else:
            self.waited += 1

    @property
    def out_of_patience(self) -> bool:
        return bool(self.patience) and self.waited >= self.patience

    @property
    def reason(self) -> str:
        return f"no improvement of {self.min_delta} in {self.patience} epochs; kept epoch {self.best_epoch}"

    def restore_best(self, model: nn.Module) -> bool:
        """Load the best epoch's weights into the model; False when none were kept (no patience, or no epoch)."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True
