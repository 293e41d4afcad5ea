"""What a model or bench.evaluate's arguments must not be: NaN weights, logits or pixels, None for a list of names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import bench
from bench.cli import main
from bench.errors import UserError
from bench.evaluation import EvaluationFailed
from defenses import Defense

KWARGS = dict(attacks=["pgd"], n=8, device="cpu", attack_params={"pgd": {"steps": 1}}, progress=False)


class Poison(Defense):
    """Turns every pixel into NaN."""

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


class NanHead(nn.Module):
    """Finite weights, NaN logits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) * float("nan")


@pytest.fixture()
def workdir(tmp_path, monkeypatch, mnist):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("bench.plan.load_dataset", lambda name: mnist)
    return tmp_path


def test_a_module_with_nan_weights_is_refused_before_any_work(workdir, natural_cnn) -> None:
    import copy

    broken = copy.deepcopy(natural_cnn)
    with torch.no_grad():
        next(broken.parameters())[0].fill_(float("nan"))
    with pytest.raises(UserError, match="NaN or infinite weights"):
        bench.evaluate(broken, **KWARGS)
    assert list(workdir.iterdir()) == []


def test_a_checkpoint_with_nan_weights_exits_2(workdir, natural_cnn, capsys) -> None:
    state = {k: v.clone() for k, v in natural_cnn.state_dict().items()}
    state["fc2.bias"][0] = float("nan")
    torch.save(state, workdir / "nan.pt")
    assert main(["run", "--arch", "smallcnn", "--checkpoint", "nan.pt", "--attack", "pgd", "--n", "4", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fc2.bias" in err


def test_a_module_returning_nan_logits_is_refused(workdir) -> None:
    with pytest.raises(UserError, match="non-finite logits"):
        bench.evaluate(NanHead(), **KWARGS)


def test_nan_pixels_from_a_purifier_fail_the_job_naming_the_cause(workdir, natural_cnn) -> None:
    with pytest.raises(EvaluationFailed, match="non-finite logits"):
        bench.evaluate(natural_cnn, defenses=[Poison()], **KWARGS)


@pytest.mark.parametrize("argument", ["attacks", "threat"])
def test_evaluate_with_none_for_a_list_names_the_argument(workdir, natural_cnn, argument) -> None:
    with pytest.raises(UserError, match=f"{argument}= must be a name or a list"):
        bench.evaluate(natural_cnn, **{**KWARGS, argument: None})
