"""Experiment specs: every mistake is refused before any work, with a message naming the fix."""

from __future__ import annotations

import pytest

from bench.plan_sources import SourceError, TransferSource, parse_source
from bench.spec import DEFAULT_LAMBDAS, SpecError, load_spec, parse_spec

BASE = {"recipes": ["natural"], "defenses": ["none"], "attacks": ["pgd"], "threats": ["oblivious"]}


def spec_of(**changes):
    return parse_spec({**BASE, **changes})


def test_defaults_from_no_file():
    spec = load_spec()
    (block,) = spec.blocks
    assert block.datasets == ("mnist5k",) and block.archs == ("smallcnn",) and block.attacks == ("pgd",)
    assert spec.name == "adhoc" and spec.seed == 0 and spec.n is None and block.eps is None
    assert block.lam == DEFAULT_LAMBDAS and len(DEFAULT_LAMBDAS) == 11


@pytest.mark.parametrize("doc, fragment", [
    ({"attaks": ["pgd"]}, "did you mean 'attacks'"),
    ({"attacks": ["pgdd"]}, "unknown attacks 'pgdd'"),
    ({"defenses": ["nosuchpurifier+aid"]}, "entry-point group purebench.defenses"),
    ({"defenses": ["none+aid"]}, "'none' cannot be part of a stack"),
    ({"recipes": ["natral"]}, "unknown recipes 'natral'"),
    ({"datasets": ["mnist6k"]}, "unknown datasets 'mnist6k'"),
    ({"threats": ["whitebox"]}, "unknown threats 'whitebox'"),
    ({"eps": [-0.1]}, "outside"),
    ({"eps": ["eight"]}, "fraction"),
    ({"lam": [1.5], "threats": ["auxaware"]}, "outside [0.0, 1.0]"),
    ({"threats": ["transfer"]}, "needs sources"),
    ({"threats": ["blackbox"]}, "score-based attacks only"),
    ({"attacks": ["square"], "threats": ["auxaware"], "defenses": ["aid"]}, "iterative engine"),
    ({"threats": ["auxaware"], "defenses": ["none", "aid"]}, "stack 'none' with threat 'auxaware': the auxaware threat needs a stage with an auxiliary loss"),
    ({"n": 0}, "n must be a positive"),
    ({"device": "tpu"}, "device must be one of"),
    ({"attack_params": {"pgd": {"stepz": 3}}}, "attack_params.pgd"),
    ({"recipe_params": {"natural": {"epoch": 3}}}, "recipe_params.natural"),
    ({"attack_params": {"pgd100": {"use": "pgdx"}}}, "unknown attacks 'pgdx'"),
    ({"attacks": ["clean"]}, "evaluated for every stack"),
    ({"attacks": ["pgd", "pgd"]}, "more than once"),
    ({"matrix": [{"attacks": ["pgd"], "eps": [0.1], "seeds": [1]}]}, "unknown key 'seeds' in [[matrix]] block 1"),
    ({"threat_params": {"adaptive": {"gradient": "magic"}}}, "unknown gradient mode"),
    ({"sources": ["same/natural@x"], "threats": ["transfer"]}, "bad transfer source"),
    ({"name": "../escape"}, "names the results file"),
])
def test_invalid_specs_name_the_fix(doc, fragment):
    with pytest.raises(SpecError) as info:
        spec_of(**doc)
    assert fragment in str(info.value)


def test_eps_fractions_variants_and_blocks():
    spec = spec_of(eps=["8/255", 0.1], attack_params={"pgd100": {"use": "pgd", "steps": 100, "eps": 0.2}},
                   matrix=[{"attacks": ["pgd100"]}, {"attacks": ["pgd"], "eps": [0.3]}])
    first, second = spec.blocks
    assert spec.default_eps == (8 / 255, 0.1) and first.eps is None and second.eps == (0.3,)
    assert spec.attacks["pgd100"].base == "pgd" and spec.attacks["pgd100"].params == {"steps": 100}
    assert spec.attack_eps == {"pgd100": (0.2,)}
    assert first.recipes == ("natural",)  # inherited from the top level


def test_toml_file_overrides_and_assignments(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('attacks = ["pgd"]\n[[matrix]]\nattacks = ["mim"]\n[[matrix]]\nthreats = ["oblivious"]\n')
    plain = load_spec(path)
    assert plain.name == "exp" and [b.attacks for b in plain.blocks] == [("mim",), ("pgd",)]
    changed = load_spec(path, overrides={"attacks": "pgd,mim", "n": 20}, assignments=["attack_params.pgd.steps=3"])
    assert all(b.attacks == ("pgd", "mim") for b in changed.blocks)
    assert changed.n == 20 and changed.attacks["pgd"].params == {"steps": 3}
    assert changed.name.startswith("exp-") and changed.digest() != plain.digest()
    assert load_spec(path, overrides={"n": 20}, name="mine").name == "mine"


def test_digest_ignores_name_but_not_matrix():
    assert spec_of(name="a").digest() == spec_of(name="b").digest()
    assert spec_of(n=10).digest() != spec_of(n=20).digest()


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("attacks = [pgd\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(bad)
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="KEY=VALUE"):
        load_spec(assignments=["novalue"])


@pytest.mark.parametrize("text, target, expected", [
    ("same", ("smallcnn", "madry", 0), ("smallcnn", "madry", 1)),
    ("same/natural", ("smallcnn", "madry", 0), ("smallcnn", "natural", 1)),
    ("lenet", ("smallcnn", "madry", 2), ("lenet", "madry", 2)),
    ("vgg19/natural@5", ("smallcnn", "madry", 0), ("vgg19", "natural", 5)),
])
def test_transfer_sources(text, target, expected):
    source = parse_source(text)
    assert source.resolve(*target) == expected
    assert TransferSource.kind(expected[0], target[0]) == ("S=T" if expected[0] == target[0] else "S!=T")


def test_transfer_source_cannot_be_the_target():
    with pytest.raises(SourceError, match="itself"):
        parse_source("same@0").resolve("smallcnn", "natural", 0)


CLASSIFIER_SPEC = 'archs = ["mine", "smallcnn"]\n[classifiers.mine]\narch = "smallcnn"\ncheckpoint = "weights/mine.pt"\n'


def test_classifiers_from_checkpoints_are_identified_by_contents_not_paths(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, weights in ((first, b"same bytes"), (second, b"same bytes")):
        (folder / "weights").mkdir(parents=True)
        (folder / "weights" / "mine.pt").write_bytes(weights)
        (folder / "exp.toml").write_text(CLASSIFIER_SPEC)
    spec = load_spec(first / "exp.toml")  # relative to the spec file, wherever the command runs
    assert spec.blocks[0].archs == ("mine", "smallcnn") and spec.classifiers["mine"].arch == "smallcnn"
    assert spec.classifiers["mine"].path == str((first / "weights" / "mine.pt").resolve())
    identity = str(spec.identity())
    assert str(tmp_path) not in identity and "mine.pt" not in identity
    assert spec.digest() == load_spec(second / "exp.toml").digest()
    (second / "weights" / "mine.pt").write_bytes(b"other bytes")
    assert spec.digest() != load_spec(second / "exp.toml").digest()


@pytest.mark.parametrize("entry, fragment", [
    ({"arch": "smallcnn"}, "needs checkpoint"),
    ({"arch": "smallcnnn", "checkpoint": "w.pt"}, "unknown archs 'smallcnnn'"),
    ({"arch": "smallcnn", "checkpoint": "nowhere.pt"}, "does not exist"),
    ({"arch": "smallcnn", "checkpoint": "w.pt", "recipe": "natural"}, "unknown key 'recipe'"),
])
def test_invalid_classifier_entries_name_the_fix(tmp_path, entry, fragment):
    (tmp_path / "w.pt").write_bytes(b"weights")
    with pytest.raises(SpecError, match=fragment):
        parse_spec({**BASE, "archs": ["mine"], "classifiers": {"mine": entry}}, base_dir=tmp_path)


def test_a_classifier_cannot_take_a_registered_arch_name(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"weights")
    with pytest.raises(SpecError, match="registered arch"):
        parse_spec({**BASE, "classifiers": {"lenet": {"arch": "smallcnn", "checkpoint": "w.pt"}}}, base_dir=tmp_path)
