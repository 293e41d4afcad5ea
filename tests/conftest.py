"""Shared fixtures: an isolated artifact cache, mnist5k, and a quickly trained small CNN.

The suite's thread policy: one torch thread per process, one job worker per
run.  Tests already run processes side by side (a run and its subprocesses),
and two threads per process on two busy cores spin against each other; tests
of parallel execution ask for workers explicitly.
"""

from __future__ import annotations

import os

import pytest
import torch

from bench.thread_policy import WORKERS_ENV

from bench.data import DatasetSplits, load_dataset
from bench.models import ARCHS
from bench.recipes import RECIPES, train


def pytest_configure(config: pytest.Config) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the subprocesses tests start
    os.environ.setdefault(WORKERS_ENV, "1")
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own PUREBENCH_CACHE and never downloads anything."""
    root = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PUREBENCH_CACHE", str(root))
    monkeypatch.setenv("PUREBENCH_OFFLINE", "1")
    return root


@pytest.fixture
def small_matrix() -> dict:
    """A spec of every job kind that runs in seconds: train, fit aid, craft pgd and mim, evaluate.

    ``threads = 1``: CPU float results depend on the thread count, so runs compared flag for flag set it.
    """
    return {
        "n": 40, "device": "cpu", "threads": 1, "recipes": ["natural"], "defenses": ["none", "aid"],
        "attacks": ["pgd", "mim"], "threats": ["oblivious"],
        "recipe_params": {"natural": {"epochs": 1, "batch_size": 256}},
        "defense_params": {"aid": {"epochs": 1, "train_steps": 2, "width": 64, "batch_size": 256, "steps": 3}},
        "attack_params": {"pgd": {"steps": 3}, "mim": {"steps": 3}},
    }


@pytest.fixture(scope="session")
def mnist() -> DatasetSplits:
    return load_dataset("mnist5k")


@pytest.fixture(scope="session")
def natural_cnn(mnist: DatasetSplits) -> torch.nn.Module:
    """A smallcnn trained naturally for 2 epochs on mnist5k (about 2 s; roughly 90% clean accuracy)."""
    torch.manual_seed(0)
    mean, std = mnist.channel_stats()
    model = ARCHS.create("smallcnn", num_classes=10, image_shape=mnist.image_shape, mean=mean, std=std)
    train(model, RECIPES.create("natural", dataset="mnist5k", epochs=2), mnist.train, seed=0, device=torch.device("cpu"), progress=False)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
