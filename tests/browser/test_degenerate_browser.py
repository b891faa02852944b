"""A collapsed model on the Latent space page: every image has the same code, and the server must stay up.

A conv VAE whose mean head is zeroed maps every image to one code, as `--lr 1` training does; such runs may
already sit in a store as "done". Before, choosing t-SNE for it ended the Streamlit process (SIGSEGV inside
scikit-learn); now the page says what is wrong, and the other runs go on working.
"""

from __future__ import annotations

import dataclasses
import urllib.request

import pytest
import torch
from playwright.sync_api import expect

from studio import no_exception, screenshot, start_server, stop_server, wait_idle

COLLAPSED = "Collapsed conv VAE"
HEALTHY = "Healthy AE"


@pytest.fixture(scope="module")
def collapsed_server(tmp_path_factory):
    from aecore.store import runs
    from aecore.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from aecore.train import train_run

    root = tmp_path_factory.mktemp("degenerate-browser") / "runs"
    root.mkdir()
    data = DataConfig(limit_train=512)
    quick = TrainConfig(epochs=1, max_steps=4, patience=0)
    healthy = train_run(RunConfig(data, ModelConfig("mlp_ae", 8, (64,)), quick, name=HEALTHY), device="cpu")
    runs.save_run(dataclasses.replace(healthy, history=dataclasses.replace(healthy.history, status="done")), root=root)
    result = train_run(RunConfig(data, ModelConfig("conv_vae", 8, (8, 16), recon_loss="bce"), quick, name=COLLAPSED),
                       device="cpu")
    with torch.no_grad():
        result.model.mu.weight.zero_()
        result.model.mu.bias.zero_()
    # saved as "done", as a run trained before collapsed models were marked would be
    runs.save_run(dataclasses.replace(result, history=dataclasses.replace(result.history, status="done")), root=root)
    proc, url = start_server(root)
    yield url, proc
    stop_server(proc)


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
        return r.read().strip() == b"ok"


def test_tsne_of_identical_codes_says_so_and_the_server_stays_up(page, collapsed_server):
    url, proc = collapsed_server
    page.goto(f"{url}/latent")
    wait_idle(page)
    no_exception(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first.click()
    page.locator('[role="option"]').filter(has_text=COLLAPSED).first.click()
    wait_idle(page)
    message = page.get_by_text("codes are the same", exact=False)
    expect(message).to_have_count(1)  # PCA, the default, refuses them too
    page.get_by_text("t-SNE (clusters)", exact=True).click()
    wait_idle(page)
    expect(message).to_have_count(1)
    expect(page.get_by_text("lower learning rate", exact=False)).to_have_count(1)
    no_exception(page)
    screenshot(page, "latent-collapsed-model")
    assert proc.poll() is None and healthy(url)

    page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first.click()
    page.locator('[role="option"]').filter(has_text=HEALTHY).first.click()
    wait_idle(page, 120_000)
    page.wait_for_function("""() => { const gd = document.querySelector('.st-key-latent_scatter .js-plotly-plot');
                                      return gd && gd._fullData && gd._fullData.length > 0; }""", timeout=120_000)
    expect(message).to_have_count(0)
    no_exception(page)
    assert proc.poll() is None and healthy(url)


@pytest.mark.parametrize("path", ["compare", "generate", "denoise", "anomalies", "your_image", "runs", ""])
def test_every_page_copes_with_the_collapsed_model(page, collapsed_server, path):
    url, proc = collapsed_server
    page.goto(f"{url}/{path}")
    wait_idle(page, 120_000)
    no_exception(page)
    assert proc.poll() is None and healthy(url)
