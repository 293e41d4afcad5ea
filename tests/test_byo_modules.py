"""Bring your own module: every registered arch and a defense holding BatchNorm go through ``bench.evaluate``.

Modules with BatchNorm keep a 0-dim ``num_batches_tracked`` tensor in their
state, which their identity hashes; these run on a tiny RGB npz (32x32, 8 test
images) so the wide networks stay cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import bench
from bench.classifiers import build_arch
from bench.data import load_dataset
from bench.errors import UserError
from bench.models import ARCHS
from defenses import Defense

N = 2
EPS = [8 / 255]
ATTACK_PARAMS = {"pgd": {"steps": 1}}


class Normed(Defense):
    """Batch-normalises the pixels with fixed statistics (eval mode): a defense whose state holds BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(3).eval()

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x).clamp(0, 1)


@pytest.fixture(scope="module")
def tiny_rgb(tmp_path_factory) -> str:
    """24 train and 8 test random 32x32 RGB images of 2 classes."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("tiny") / "tiny.npz"
    split = np.array(["train"] * 24 + ["test"] * 8)
    np.savez(path, x=rng.integers(0, 256, size=(32, 32, 32, 3), dtype=np.uint8), y=np.arange(32) % 2, split=split)
    return f"npz:{path}"


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("arch", ARCHS.names())
def test_every_registered_arch_passed_as_a_module_is_evaluated(arch, tiny_rgb, workdir):
    torch.manual_seed(0)
    model = build_arch(arch, load_dataset(tiny_rgb)).eval()
    kwargs = dict(dataset=tiny_rgb, defenses=["none"], attacks=["pgd"], n=N, eps=EPS, device="cpu",
                  attack_params=ATTACK_PARAMS, progress=False)
    frame = bench.evaluate(model, **kwargs)
    assert len(frame) == 2 and frame["accuracy"].between(0, 100).all() and set(frame["n"]) == {N}
    assert bench.evaluate(model, **kwargs)["job_key"].tolist() == frame["job_key"].tolist()


def test_a_defense_object_holding_batchnorm_is_evaluated(tiny_rgb, workdir):
    torch.manual_seed(0)
    model = build_arch("smallcnn", load_dataset(tiny_rgb)).eval()
    frame = bench.evaluate(model, dataset=tiny_rgb, defenses=["none", Normed()], attacks=["pgd"], n=N, eps=EPS,
                           device="cpu", attack_params=ATTACK_PARAMS, progress=False)
    assert sorted(set(frame["defense"])) == ["Normed", "none"] and len(frame) == 4


def test_a_module_on_the_meta_device_is_refused_naming_the_fix(workdir):
    with torch.device("meta"):
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(UserError, match="meta device.*to_empty"):
        bench.evaluate(model, progress=False)
    assert list(workdir.iterdir()) == []
