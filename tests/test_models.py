"""Archs: output shapes, feature taps, and that reading taps never changes the network."""

from __future__ import annotations

import pytest
import torch

from bench.errors import UnknownNameError
from bench.models import ARCHS, FeatureTaps, forward_with_taps

SHAPES = {"smallcnn": (1, 28, 28), "lenet": (1, 28, 28), "vgg19": (1, 28, 28)}


def _build(arch: str, shape: tuple[int, int, int]) -> torch.nn.Module:
    torch.manual_seed(0)
    return ARCHS.create(arch, num_classes=7, image_shape=shape, mean=[0.5] * shape[0], std=[0.25] * shape[0]).eval()


@pytest.fixture(scope="module")
def wrn34_10() -> torch.nn.Module:
    """Built once: WRN-34-10 has 46M parameters."""
    return _build("wrn34_10", (3, 32, 32))


@pytest.mark.parametrize("arch", ARCHS.names())
def test_every_arch_has_taps_layer1_first_and_unchanged_outputs(arch: str, request: pytest.FixtureRequest) -> None:
    shape = SHAPES.get(arch, (3, 32, 32))
    model = request.getfixturevalue("wrn34_10") if arch == "wrn34_10" else _build(arch, shape)
    x = torch.rand(2, *shape)
    names = list(model.tap_points)
    assert names[0] == "layer1" and names == [f"layer{i + 1}" for i in range(len(names))]
    with torch.no_grad():
        plain = model(x)
        logits, taps = forward_with_taps(model, x, names)
    assert logits.shape == (2, 7) and torch.equal(plain, logits)
    assert all(t.shape[0] == 2 for t in taps.values())
    assert taps["layer1"].ndim == 4 and taps["layer1"].shape[0] == 2
    assert not model._forward_hooks and all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_wrn34_10_taps_match_the_readme_layers(wrn34_10: torch.nn.Module) -> None:
    model = wrn34_10
    _, taps = forward_with_taps(model, torch.rand(1, 3, 32, 32), ["layer1", "layer2", "layer3", "layer4"])
    assert [tuple(t.shape[1:]) for t in taps.values()] == [(16, 32, 32), (160, 32, 32), (320, 16, 16), (640, 8, 8)]
    assert sum(len(g) for g in (model.block1, model.block2, model.block3)) == 15  # 15 blocks: layer4 is the 15th


def test_unknown_tap_names_declared_taps() -> None:
    model = _build("smallcnn", (1, 28, 28))
    with pytest.raises(UnknownNameError, match="declared taps: layer1, layer2, layer3"):
        FeatureTaps(model, ["layer9"])


def test_module_path_works_as_a_tap() -> None:
    model = _build("smallcnn", (1, 28, 28))
    _, taps = forward_with_taps(model, torch.rand(3, 1, 28, 28), ["fc1"])
    assert taps["fc1"].shape == (3, 256)


def test_normalisation_lives_inside_the_model() -> None:
    model = _build("smallcnn", (1, 28, 28))
    x = torch.rand(2, 1, 28, 28)
    assert torch.allclose(model.normalize(x), (x - 0.5) / 0.25)
