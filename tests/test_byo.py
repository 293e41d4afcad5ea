"""Bring your own classifier and defense: checkpoints from the CLI and specs, objects through ``bench.evaluate``."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import bench
from bench.cli import main
from bench.errors import UserError
from bench.export import results_frame
from bench.plan import build_plan
from bench.results import COLUMNS
from bench.spec import checkpoint_overrides, load_spec, parse_spec
from defenses import Defense

N = 60
ATTACK_PARAMS = {"pgd": {"steps": 3}}
CLI_FLAGS = ["--defense", "none", "--attack", "pgd", "--n", str(N), "--device", "cpu", "--set", "attack_params.pgd.steps=3"]
BY_CELL = ["defense", "attack", "eps"]


class Blur(Defense):
    """A mean filter of a given size (no fitted state)."""

    def __init__(self, size: int = 3) -> None:
        super().__init__(size=size)

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        size = self.params["size"]
        return F.avg_pool2d(x, size, stride=1, padding=size // 2, count_include_pad=False)


class Dim(Defense):
    """Scales pixels by a factor fitted on the training data: a defense with state that ``fit`` changes."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Linear(1, 1, bias=False)
        nn.init.ones_(self.scale.weight)

    def fit(self, ctx) -> None:
        with torch.no_grad():
            self.scale.weight.fill_(0.5 + float(ctx.train.x[:100].mean()))

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale.weight.reshape(())).clamp(0, 1)


class RunsCode:
    """A pickled object that would create ``marker`` when unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(autouse=True)
def mnist_loaded_once(mnist, monkeypatch):
    """Runs plan on the session's mnist5k instead of parsing it again (the planner hands it to the executor)."""
    monkeypatch.setattr("bench.plan.load_dataset", lambda name: mnist if name == "mnist5k" else pytest.fail(name))


@pytest.fixture()
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def checkpoint(natural_cnn, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "mine.pt"
    torch.save(natural_cnn.state_dict(), path)
    return path


def sessions_and_jobs(path: Path) -> list[int]:
    """Jobs run per session of the database at ``path``."""
    conn = sqlite3.connect(path)
    try:
        sessions = [r[0] for r in conn.execute("SELECT id FROM sessions ORDER BY id")]
        return [conn.execute("SELECT COUNT(*) FROM jobs WHERE session_id = ?", (s,)).fetchone()[0] for s in sessions]
    finally:
        conn.close()


def accuracies(frame) -> dict[tuple, float]:
    return {tuple(row[c] for c in BY_CELL): row["accuracy"] for _, row in frame.iterrows()}


def test_checkpoint_round_trip_cli_python_and_module_agree(workdir, checkpoint, natural_cnn, monkeypatch, capsys):
    assert main(["run", "--arch", "smallcnn", "--checkpoint", str(checkpoint), *CLI_FLAGS, "--results", "cli.sqlite"]) == 0
    from_cli = results_frame("cli.sqlite")
    assert set(from_cli["recipe"]) == {"checkpoint"} and set(from_cli["arch"]) == {"smallcnn"}

    for name, classifier, arch in [("path", str(checkpoint), "smallcnn"), ("module", natural_cnn, None)]:
        monkeypatch.setenv("PUREBENCH_CACHE", str(workdir / f"cache-{name}"))  # computed anew, not read back
        frame = bench.evaluate(classifier, arch=arch, defenses=["none"], attacks=["pgd"], n=N, device="cpu",
                               attack_params=ATTACK_PARAMS, results=f"{name}.sqlite", progress=False)
        assert tuple(frame.columns) == COLUMNS and str(frame["finished"].dtype).startswith("datetime64")
        assert accuracies(frame) == accuracies(from_cli) and len(frame) == 2, name
    assert results_frame("path.sqlite")["classifier_key"].tolist() == from_cli["classifier_key"].tolist()
    assert set(results_frame("module.sqlite")["recipe"]) == {"module"}

    capsys.readouterr()
    assert main(["report", "module.sqlite", "-o", str(workdir / "report")]) == 0
    page = (workdir / "report" / "index.html").read_text()
    assert "Given classifiers (training not known)" in page  # neither stand-alone nor add-on: its training is unknown
    assert "Add-on (adversarially trained)" not in page and "Stand-alone (natural training)" not in page


def test_renamed_checkpoint_hits_the_cache_and_other_contents_do_not(workdir, checkpoint, natural_cnn, isolated_cache, capsys):
    assert main(["run", "--arch", "smallcnn", "--checkpoint", str(checkpoint), *CLI_FLAGS]) == 0
    first = capsys.readouterr().out
    cached = sorted(p.name for p in isolated_cache.rglob("*"))

    renamed = workdir / "renamed.bin"
    shutil.move(checkpoint, renamed)
    assert main(["run", "--arch", "smallcnn", "--checkpoint", str(renamed), *CLI_FLAGS]) == 0  # same results database
    assert "(0 run now)" in capsys.readouterr().out and "(4 run now)" in first
    assert main(["run", "--arch", "smallcnn", "--checkpoint", str(renamed), *CLI_FLAGS, "--results", "other.sqlite"]) == 0
    assert sorted(p.name for p in isolated_cache.rglob("*")) == cached  # a new database, every artifact from the cache

    other = workdir / "other.pt"
    state = natural_cnn.state_dict()
    torch.save({**state, "fc2.bias": state["fc2.bias"] + 1.0}, other)
    specs = [load_spec(overrides=checkpoint_overrides("smallcnn", path)) for path in (renamed, other)]
    keys = [{job.task.classifier.key for job in build_plan(spec).ordered() if job.kind.value == "train"} for spec in specs]
    assert keys[0] != keys[1] and specs[0].digest() != specs[1].digest()
    assert str(renamed) not in str(specs[0].identity())


@pytest.mark.parametrize("save", ["torch", "pickle"])
def test_checkpoint_that_would_run_code_is_refused(workdir, isolated_cache, capsys, save):
    marker = workdir / "ran"
    evil = workdir / "evil.pt"
    if save == "torch":
        torch.save({"w": RunsCode(marker)}, evil)
    else:
        import pickle

        evil.write_bytes(pickle.dumps({"w": RunsCode(marker)}))
    assert main(["run", "--arch", "smallcnn", "--checkpoint", str(evil), *CLI_FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "would run code" in err
    assert not marker.exists() and sorted(p.name for p in workdir.iterdir()) == ["evil.pt"]
    assert list(isolated_cache.iterdir()) == []


@pytest.mark.parametrize("argv, fragment", [
    (["--arch", "lenet"], "does not fit arch 'lenet'"),
    (["--arch", "smallcnn", "--recipe", "natural"], "drop --recipe"),
    (["--arch", "smallcnn,lenet"], "the one arch"),
    ([], "the one arch"),
])
def test_checkpoint_mistakes_exit_2_naming_the_fix(workdir, checkpoint, capsys, argv, fragment):
    assert main(["run", "--checkpoint", str(checkpoint), *argv, *CLI_FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    assert list(workdir.iterdir()) == []


def test_missing_checkpoint_exits_2(workdir, capsys):
    assert main(["run", "--arch", "smallcnn", "--checkpoint", "nowhere.pt", *CLI_FLAGS]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unregistered_defense_objects_are_evaluated_cached_and_left_untouched(workdir, checkpoint):
    dim = Dim()
    kwargs = dict(defenses=["none", Blur(), dim, [Blur(5), dim]], attacks=["pgd"], n=N, device="cpu",
                  attack_params=ATTACK_PARAMS, results="objects.sqlite", progress=False)
    frame = bench.evaluate(str(checkpoint), arch="smallcnn", **kwargs)
    assert sorted(set(frame["defense"])) == ["Blur", "Blur-2+Dim", "Dim", "none"]
    params = dict(zip(frame["defense"], frame["defense_params"]))
    assert params["Blur"] == "Blur(size=3)" and params["Blur-2+Dim"] == "Blur-2(size=5)+Dim"  # the variants' parameters
    assert len(frame) == 8 and frame["accuracy"].between(0, 100).all()
    assert float(dim.scale.weight.detach()) == 1.0  # fitted on a copy

    again = bench.evaluate(str(checkpoint), arch="smallcnn", **kwargs)
    assert again["accuracy"].tolist() == frame["accuracy"].tolist()
    ran = sessions_and_jobs(workdir / "objects.sqlite")
    assert len(ran) == 2 and ran[0] > 0 and ran[1] == 0  # the second call did no work


def test_defense_objects_are_keyed_by_their_contents(mnist):
    def stage_keys(obj: Defense) -> tuple[str, str]:
        spec = parse_spec({"defenses": ["x"], "attacks": ["pgd"]}, objects={"x": obj})
        (stage,) = next(job.task.stack for job in build_plan(spec, {"mnist5k": mnist}).ordered() if job.kind.value == "evaluate")
        return stage.key, spec.digest()

    assert stage_keys(Blur(3)) == stage_keys(Blur(3))
    assert stage_keys(Blur(3)) != stage_keys(Blur(5))
    tuned = Blur(3)
    tuned.extra = 2  # a setting kept in an attribute
    assert stage_keys(tuned) != stage_keys(Blur(3))
    fitted = Dim()
    with torch.no_grad():
        fitted.scale.weight.fill_(0.25)  # other starting weights
    assert stage_keys(fitted)[0] != stage_keys(Dim())[0]


@pytest.mark.parametrize("classifier, kwargs, fragment", [
    (nn.Linear(4, 2), {}, "fails on mnist5k images"),
    ("x.pt", {"arch": None}, "the one arch"),
    (42, {}, "nn.Module or the path"),
])
def test_evaluate_refuses_unusable_classifiers(workdir, mnist, classifier, kwargs, fragment):
    (workdir / "x.pt").write_bytes(b"")
    with pytest.raises(UserError, match=fragment):
        bench.evaluate(classifier, progress=False, **kwargs)
    assert sorted(p.name for p in workdir.iterdir()) == ["x.pt"]


def test_evaluate_refuses_a_defense_without_purify(workdir):
    class Empty(Defense):
        pass

    with pytest.raises(UserError, match="does not implement purify"):
        bench.evaluate(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), defenses=[Empty()], progress=False)


def test_a_checkpoint_in_the_archs_axis_is_one_classifier_and_a_transfer_source(checkpoint, mnist):
    classifiers = {"mine": {"arch": "smallcnn", "checkpoint": str(checkpoint)}}
    doc = {"archs": ["mine", "smallcnn"], "recipes": ["natural", "madry"], "classifiers": classifiers, "attacks": ["pgd"]}
    plan = build_plan(parse_spec(doc), {"mnist5k": mnist})
    trained = [job.task.classifier for job in plan.ordered() if job.kind.value == "train"]
    assert [(c.arch, c.recipe) for c in trained] == [("smallcnn", "mine"), ("smallcnn", "natural"), ("smallcnn", "madry")]

    transfer = {**doc, "archs": ["smallcnn"], "recipes": ["natural"], "threats": ["transfer"], "sources": ["mine"]}
    surrogates = {job.task.target.recipe for job in build_plan(parse_spec(transfer), {"mnist5k": mnist}).ordered()
                  if job.kind.value == "craft"}
    assert surrogates == {"mine"}
    with pytest.raises(UserError, match="needs a recipe"):
        build_plan(parse_spec({**transfer, "archs": ["mine"], "sources": ["same"]}), {"mnist5k": mnist})
