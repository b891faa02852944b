import pytest
import torch

from aecore.config import ModelConfig
from aecore.models import MODELS, Autoencoder, build_model, count_parameters
from aecore.config import default_config

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 9, 13)]


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_follow_the_data(kind, shape):
    model = build_model(default_config(kind), shape)
    assert isinstance(model, Autoencoder)
    x = torch.rand(4, *shape)
    z = model.encode(x)
    assert z.shape == (4, model.latent_dim)
    x_hat = model.decode(z)
    assert x_hat.shape == x.shape
    assert model(x).shape == x.shape


@pytest.mark.parametrize("kind", ["mlp_ae", "deep_mlp_ae", "conv_ae"])
def test_the_fused_mse_loss_equals_the_per_image_sum_and_the_displayed_mse(kind):
    from aecore.models.common import pixel_mse, reconstruction_error

    torch.manual_seed(0)
    model = build_model(default_config(kind), (1, 28, 28))
    x = torch.rand(16, 1, 28, 28)
    loss, logs = model.loss(x, x)
    logits = model.decoder(model.encode(x))
    assert loss.item() == pytest.approx((reconstruction_error(logits, x, model.cfg).mean() / 784).item(), rel=1e-6)
    assert logs["mse"].item() == pytest.approx(pixel_mse(logits, x, "sigmoid").item(), rel=1e-6)


@pytest.mark.parametrize("kind", list(MODELS))
def test_loss_is_finite_and_falls_on_a_fixed_batch(kind, tiny_split):
    torch.manual_seed(0)
    model = build_model(default_config(kind), tiny_split.shape)
    x = tiny_split.x[:32].float() / 255
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss, logs = model.loss(x, x)
        assert torch.isfinite(loss) and set(logs) >= {"loss", "mse"}
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("kind", list(MODELS))
def test_sigmoid_output_stays_in_unit_range(kind):
    model = build_model(default_config(kind), (1, 28, 28))
    z = torch.randn(16, model.latent_dim) * 50
    x_hat = model.decode(z)
    assert x_hat.min() >= 0 and x_hat.max() <= 1


def test_classic_mlp_layout():
    model = build_model(ModelConfig("mlp_ae", 64, (256,)), (1, 28, 28))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 256), (256, 64), (64, 256), (256, 784)]
    # a ReLU follows the 64-d code, so codes are never negative
    assert model.encode(torch.rand(8, 1, 28, 28)).min() >= 0
    assert count_parameters(model) == 784 * 256 + 256 + 256 * 64 + 64 + 64 * 256 + 256 + 256 * 784 + 784


def test_deep_mlp_has_unbounded_code_and_glorot_zero_bias():
    model = build_model(default_config("deep_mlp_ae"), (1, 28, 28))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [256, 64, 32, 64, 256, 784]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears)
    first = linears[0].weight
    bound = (6 / (784 + 256)) ** 0.5
    assert first.abs().max() <= bound and first.abs().max() > 0.9 * bound
    codes = model.encode(torch.rand(64, 1, 28, 28))
    assert (codes < 0).any()


@pytest.mark.parametrize("kind", ["vae", "conv_vae"])
def test_vae_reports_elbo_terms_encodes_the_mean_and_samples(kind):
    model = build_model(default_config(kind), (1, 28, 28))
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(1)
    loss, logs = model.loss(x, x)
    assert {"recon", "kl"} <= set(logs)
    assert logs["kl"] >= 0
    assert torch.allclose(loss, logs["recon"] + model.cfg.beta * logs["kl"])
    assert torch.equal(model.encode(x), model.encode(x))  # the mean, no sampling
    samples = model.sample(5, torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28)
    assert torch.equal(samples, model.sample(5, torch.Generator().manual_seed(0)))


def test_beta_weights_the_kl_term():
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(0)
    model = build_model(ModelConfig("vae", 4, (64,), beta=0.0), (1, 28, 28))
    torch.manual_seed(1)
    loss, logs = model.loss(x, x)
    assert torch.allclose(loss, logs["recon"]) and logs["kl"] > 0


@pytest.mark.parametrize("kind", list(MODELS))
def test_same_seed_gives_same_weights_whatever_the_global_rng(kind):
    torch.manual_seed(7)
    state = torch.get_rng_state()
    a = build_model(default_config(kind), (1, 28, 28), seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is neither used nor moved
    torch.manual_seed(8)
    b = build_model(default_config(kind), (1, 28, 28), seed=3)
    c = build_model(default_config(kind), (1, 28, 28), seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))


@pytest.mark.parametrize("kind", [k for k in MODELS if k != "deep_mlp_ae"])
def test_seeded_weights_are_torchs_own_default_initialisation(kind):
    torch.manual_seed(3)
    torch_default = MODELS[kind](default_config(kind), (1, 28, 28))  # each layer's reset_parameters
    seeded = build_model(default_config(kind), (1, 28, 28), seed=3)
    assert all(torch.equal(p, q) for p, q in zip(torch_default.state_dict().values(), seeded.state_dict().values()))


@pytest.mark.parametrize("kind", ["vae", "conv_vae"])
def test_vae_noise_comes_from_the_generator_it_is_given(kind):
    model = build_model(default_config(kind), (1, 28, 28))
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(0)
    a, _ = model.loss(x, x, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(99)
    state = torch.get_rng_state()
    b, _ = model.loss(x, x, generator=torch.Generator().manual_seed(1))
    c, _ = model.loss(x, x, generator=torch.Generator().manual_seed(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_input_shape_is_refused():
    with pytest.raises(ValueError, match="C, H, W"):
        build_model(ModelConfig(), (28, 28))


def test_every_model_kind_is_registered_with_defaults_labels_and_a_variational_flag():
    from aecore.config import MODEL_KINDS
    from aecore.models import is_variational
    from aecore.models.registry import DEFAULTS
    from ui.widgets import MODEL_BLURBS, MODEL_LABELS

    assert set(MODELS) == set(MODEL_KINDS) == set(DEFAULTS) == set(MODEL_LABELS) == set(MODEL_BLURBS)
    assert {kind for kind in MODELS if is_variational(kind)} == {"vae", "conv_vae"}
    for kind in MODELS:  # a variational model is one the Generate page can sample
        assert is_variational(kind) == hasattr(MODELS[kind], "sample")
    with pytest.raises(ValueError, match="unknown model kind"):
        is_variational("gan")
