"""What the Generate page draws new images from: a VAE's prior, a Gaussian mixture over training codes, class means.

The mixture is fitted to the codes of up to `MIXTURE_CODES` training images, which takes seconds, so it is
`compute` work in a worker process keyed by run, dataset and number of components: two sessions asking for
the same mixture share one fit, and the page waits on it through `ui.waiting`. Sampling from a fitted mixture
and decoding a few dozen codes takes milliseconds, so it runs in the script.
"""

from __future__ import annotations


import numpy as np
import streamlit as st

from aecore import units, workers
from aecore.generate import CodeMixture, class_means, sample_mixture, sample_prior
from aecore.infer import image_uint8
from aecore.latent import decode_codes, encode_split
from ui.loaders import cached_model, cached_test_split
from ui.visitor import current_visitor
from ui.waiting import UNWATCHED_AFTER, result_of

MIXTURE_CODES = 5000  # training images whose codes the mixture is fitted to
MIXTURE_SEED = 0  # the fit is seeded, so one run and one number of components always give the same mixture
CODE_SUBSET = 1000  # test images whose codes set the sliders' directions and the class means


@st.cache_data(max_entries=32, show_spinner="Drawing new images…")
def prior_samples(run_id: str, n: int, seed: int, temperature: float) -> np.ndarray:
    """(n, H, W) uint8 images decoded from random codes of the VAE's prior, its spread times `temperature`."""
    return image_uint8(sample_prior(cached_model(run_id), n, seed, temperature=temperature))


@st.cache_data(max_entries=16, show_spinner="Reading the codes of test images…")
def test_codes(run_id: str, dataset: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes (n, D) of a fixed subset of the dataset's test images, their labels (n,) and test indices (n,)."""
    codes = encode_split(cached_model(run_id), cached_test_split(dataset), n=CODE_SUBSET)
    return codes.z, codes.labels, codes.indices


@st.cache_data(max_entries=16, show_spinner=False)
def cached_class_means(run_id: str, dataset: str) -> np.ndarray:
    """The mean code (K, D) of each class over the test subset; NaN rows for classes it lacks."""
    z, labels, _ = test_codes(run_id, dataset)
    return class_means(z, labels, len(cached_test_split(dataset).classes))


def mixture_work(run_id: str, dataset: str, components: int) -> str:
    """The id of the work fitting a `components`-curve mixture to the run's training codes (a `CodeMixture`)."""
    return workers.submit(units.mixture, run_id, dataset, components, MIXTURE_SEED, MIXTURE_CODES,
                          key=("mixture", run_id, dataset, components, MIXTURE_SEED),
                          drop_after=UNWATCHED_AFTER, owner=current_visitor().owner)


def mixture_or_none(run_id: str, dataset: str, components: int) -> CodeMixture | None:
    """The fitted mixture; None while it is fitted (its progress is drawn) or when the fit failed (said so)."""
    return result_of(mixture_work(run_id, dataset, components), "Fitting the mixture",
                     "The mixture could not be fitted to this model's codes. Try fewer groups, or another model.")


def mixture_samples(run_id: str, mixture: CodeMixture, n: int, seed: int) -> np.ndarray:
    """(n, H, W) uint8 images decoded from n codes drawn from the mixture."""
    return image_uint8(decode_codes(cached_model(run_id), sample_mixture(mixture, n, seed)))
