"""Training recipes: each runs, lowers its loss, and the same seed gives bit-identical weights."""

from __future__ import annotations

import pytest
import torch

from bench.cache import ArtifactCache
from bench.classifiers import ClassifierId, obtain_classifier
from bench.data import DatasetSplits, Split
from bench.errors import InvalidInputError
from bench.recipes import RECIPES, train
from bench.recipes.avmixup import smoothed_one_hot

TINY = {"epochs": 1, "batch_size": 50, "attack_steps": 2}


def _subset(mnist: DatasetSplits, n: int) -> DatasetSplits:
    return DatasetSplits(mnist.name, Split(mnist.train.x[:n], mnist.train.y[:n]), mnist.test.head(200), 10, mnist.fingerprint + f"/first{n}")


@pytest.mark.parametrize("recipe", RECIPES.names())
def test_each_recipe_trains_a_few_steps(recipe: str, mnist: DatasetSplits) -> None:
    from bench.classifiers import build_arch

    data = _subset(mnist, 200)
    torch.manual_seed(0)
    model = build_arch("smallcnn", data)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stats = train(model, RECIPES.create(recipe, dataset="mnist5k", **TINY), data.train, seed=0, device=torch.device("cpu"), progress=False)
    assert stats["train_seconds"] > 0 and torch.isfinite(torch.tensor(stats["final_loss"]))
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad for p in model.parameters())  # inner attacks restore trainability


def test_same_seed_gives_bit_identical_checkpoints(mnist: DatasetSplits, tmp_path) -> None:
    data = _subset(mnist, 300)
    states = []
    for run in range(2):
        loaded = obtain_classifier(ClassifierId("mnist5k", "smallcnn", "madry", 3, TINY), data=data, device="cpu",
                                   cache=ArtifactCache(tmp_path / f"c{run}"), progress=False)
        assert loaded.trained_now
        states.append(loaded.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    other = obtain_classifier(ClassifierId("mnist5k", "smallcnn", "madry", 4, TINY), data=data, device="cpu",
                              cache=ArtifactCache(tmp_path / "c0"), progress=False)
    assert not torch.equal(other.model.state_dict()["fc2.weight"], states[0]["fc2.weight"])


def test_second_load_is_a_cache_hit_with_the_same_weights(mnist: DatasetSplits, tmp_path) -> None:
    data = _subset(mnist, 100)
    cid = ClassifierId("mnist5k", "smallcnn", "natural", 0, {"epochs": 1})
    first = obtain_classifier(cid, data=data, device="cpu", cache=ArtifactCache(tmp_path), progress=False)
    second = obtain_classifier(cid, data=data, device="cpu", cache=ArtifactCache(tmp_path), progress=False)
    assert first.trained_now and not second.trained_now and first.key == second.key
    assert torch.equal(first.model.state_dict()["fc1.weight"], second.model.state_dict()["fc1.weight"])
    assert second.metadata["clean_accuracy"] == first.metadata["clean_accuracy"]


def test_corrupted_checkpoint_is_retrained(mnist: DatasetSplits, tmp_path) -> None:
    data = _subset(mnist, 100)
    cid = ClassifierId("mnist5k", "smallcnn", "natural", 0, {"epochs": 1})
    first = obtain_classifier(cid, data=data, device="cpu", cache=ArtifactCache(tmp_path), progress=False)
    path = tmp_path / "classifiers" / f"{first.key}.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    again = obtain_classifier(cid, data=data, device="cpu", cache=ArtifactCache(tmp_path), progress=False)
    assert again.trained_now
    assert torch.equal(first.model.state_dict()["fc1.weight"], again.model.state_dict()["fc1.weight"])


def test_recipe_parameters_change_the_key_and_bad_ones_are_named(mnist: DatasetSplits) -> None:
    from bench.classifiers import classifier_key

    a = classifier_key(ClassifierId("mnist5k", "smallcnn", "madry", 0, {"epochs": 1}), mnist)
    b = classifier_key(ClassifierId("mnist5k", "smallcnn", "madry", 0, {"epochs": 2}), mnist)
    assert a != b
    with pytest.raises(InvalidInputError, match="unknown recipe parameter"):
        RECIPES.create("madry", dataset="mnist5k", epochz=3)


def test_label_smoothing_of_avmixup() -> None:
    t = smoothed_one_hot(torch.tensor([0, 2]), 3, 0.7)
    assert torch.allclose(t, torch.tensor([[0.7, 0.15, 0.15], [0.15, 0.15, 0.7]]))


def _bn_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 26 * 26, 10))


def test_trades_update_is_the_reference_one_with_separate_batch_norm_passes(mnist: DatasetSplits, monkeypatch) -> None:
    """TRADES' outer loss and batch-norm statistics as in the reference ``trades_loss``: clean, adversarial, clean again."""
    import torch.nn.functional as F

    from bench.recipes import trades

    x, y = mnist.train.x[:32], mnist.train.y[:32]
    x_adv = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    monkeypatch.setattr(trades, "adversarial_batch", lambda *args, **kwargs: x_adv)  # the inner attack is not under test

    reference = _bn_net().train()
    natural = F.cross_entropy(reference(x), y)
    robust = F.kl_div(F.log_softmax(reference(x_adv), 1), F.softmax(reference(x), 1), reduction="sum") / len(x)
    expected = natural + 6.0 * robust

    ours = _bn_net().train()
    loss = RECIPES.create("trades", dataset="mnist5k").batch_loss(ours, x, y, 0.3, torch.Generator().manual_seed(0))
    assert torch.allclose(loss, expected, atol=1e-6)
    bn, ref_bn = ours[1], reference[1]
    assert torch.allclose(bn.running_mean, ref_bn.running_mean) and torch.allclose(bn.running_var, ref_bn.running_var)
