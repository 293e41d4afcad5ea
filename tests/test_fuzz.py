"""Property-based fuzzing of every input a user hands over: whatever it is, success or one ``UserError``.

Spec documents, CLI argument lists, npz contents, checkpoint bytes and cache
manifests.  Each property runs a few dozen examples in the fast suite and a
thousand under ``-m slow`` (before a release).  From the CLI a user error is
exit status 2, one line on stderr and nothing written.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.torch import save as save_safetensors

from bench.cache import ArtifactCache
from bench.checkpoints import read_checkpoint
from bench.cli import main
from bench.data import DatasetSplits, load_dataset
from bench.errors import UserError
from bench.spec import TOP_KEYS, parse_spec

_COMMON = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FAST = settings(max_examples=40, **_COMMON)
LONG = settings(max_examples=1000, **_COMMON)


def fast_and_long(strategy: st.SearchStrategy, prop: Callable[..., None]) -> tuple[Callable, Callable]:
    """The property as a fast test and as a long one marked ``slow``."""
    return FAST(given(strategy)(prop)), pytest.mark.slow(LONG(given(strategy)(prop)))


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# ---------------------------------------------------------------- spec documents

NAMES = ["mnist5k", "npz:missing.npz", "smallcnn", "lenet", "natural", "madry", "none", "aid", "pixeldefend+aid", "pgd", "cw",
         "square", "oblivious", "auxaware", "transfer", "adaptive", "same", "lenet/natural@1", "8/255", "0.3", "x", "", "a\n",
         "clean", "robustbench:Nope", "use", "auto", "cpu"]
KEYS = [*TOP_KEYS, "steps", "eps", "use", "arch", "checkpoint", "epochs", "gradient", "x"]
scalars = st.one_of(st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(NAMES), st.text(max_size=8))
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
                      max_leaves=10)
junk_documents = st.dictionaries(keys, values, max_size=6)
name_lists = st.one_of(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True), st.sampled_from(NAMES), values)
numbers = st.one_of(st.lists(st.one_of(st.floats(0, 1.5), st.sampled_from(["8/255", "1/0", "x", "2"])), min_size=1, max_size=3),
                    st.floats(0, 1), values)
params = st.dictionaries(st.sampled_from(["steps", "eps", "use", "momentum", "epochs", "gradient", "select", "x"]),
                         st.one_of(st.integers(-1, 20), st.floats(0, 1), st.sampled_from(NAMES), values), max_size=3)
AXIS_STRATEGIES = {axis: name_lists for axis in ("datasets", "archs", "recipes", "defenses", "attacks", "threats", "sources")}
AXIS_STRATEGIES.update(eps=numbers, lam=numbers)
FIELDS = {
    "name": st.one_of(st.sampled_from(["a", "quick", "x y", "a\n", "a" * 120]), values),
    "seed": st.one_of(st.integers(-2, 5), values), "n": st.one_of(st.integers(-1, 50), values),
    "device": st.one_of(st.sampled_from(["auto", "cpu", "gpu"]), values), "batch_size": st.one_of(st.integers(-1, 600), values),
    "threads": st.one_of(st.integers(-1, 4), values), **AXIS_STRATEGIES,
    **{table: st.one_of(st.dictionaries(st.sampled_from(["pgd", "cw", "aid", "natural", "adaptive", "mine"]), params, max_size=2),
                        values)
       for table in ("attack_params", "defense_params", "recipe_params", "threat_params")},
    "matrix": st.one_of(st.lists(st.fixed_dictionaries({}, optional=AXIS_STRATEGIES), min_size=1, max_size=2), values),
    "classifiers": st.one_of(st.dictionaries(st.sampled_from(["mine", "smallcnn", "a b"]), st.fixed_dictionaries(
        {}, optional={"arch": st.sampled_from(NAMES), "checkpoint": st.sampled_from(["missing.pt", "", "."])}), max_size=1),
        values),
}
structured_documents = st.fixed_dictionaries({}, optional=FIELDS)
one_field_changed = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda key: FIELDS[key].map(lambda value: {"attacks": ["pgd"], "n": 5, key: value}))
spec_documents = st.one_of(one_field_changed, structured_documents, junk_documents)


def _spec_document_is_a_spec_or_one_user_error(doc: dict[str, Any]) -> None:
    try:
        parse_spec(doc)
    except UserError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


test_spec_documents, test_spec_documents_long = fast_and_long(spec_documents, _spec_document_is_a_spec_or_one_user_error)


# ---------------------------------------------------------------- CLI argument lists

SUBCOMMANDS = [["run", "--dry-run"], ["data"], ["list"], ["export"], ["report"], ["run", "spec.toml", "--dry-run"]]
WORDS = ["--dataset", "--arch", "--recipe", "--defense", "--attack", "--threat", "--eps", "--lam", "--source", "--n", "--seed",
         "--name", "--results", "--set", "--checkpoint", "--format", "-o", "--device", "--jobs", "mnist5k", "npz:d.npz",
         "npz:junk.bin", "npz:d.npz,d.npz", "smallcnn", "lenet", "natural", "none", "aid", "pgd", "cw", "square", "oblivious",
         "transfer", "0.3", "8/255", "8", "-1", "0", "3", "abc\n", "a" * 250, "theirs.sqlite", "junk.bin", "results.sqlite", "",
         "1e400", "nan", "attack_params.pgd.steps=1", "matrix=3", "n=\"2\"", "csv", "latex", "same", "cpu", "datasets", "archs",
         "ckpt.pt", "spec.toml", "out", "sub/out.csv", "junk.bin/out.csv"]
argument_lists = st.tuples(st.sampled_from(SUBCOMMANDS), st.lists(st.sampled_from(WORDS), max_size=6))


@pytest.fixture()
def cli_folder(tmp_path, monkeypatch, mnist):
    """A working folder with a small npz, a junk file, another program's database, a text checkpoint and a spec."""
    import sqlite3

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, size=(20, 8, 8), dtype=np.uint8), y=np.arange(20) % 2)
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)))
    (tmp_path / "ckpt.pt").write_bytes(b"hello")
    (tmp_path / "spec.toml").write_text('attacks = ["pgd"]\nn = 5\n')
    conn = sqlite3.connect(tmp_path / "theirs.sqlite")
    conn.execute("CREATE TABLE run (id INTEGER)")
    conn.commit()
    conn.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("bench.plan.load_dataset", lambda name: mnist if name == "mnist5k" else load_dataset(name))
    return tmp_path


def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"") for p in root.rglob("*")}


def _argv_is_success_or_one_line_exit_2(folder: Path, capsys, args: tuple[list[str], list[str]]) -> None:
    argv = [*args[0], *args[1]]
    before = _listing(folder)
    capsys.readouterr()
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse: usage errors and --help
        status = exc.code
    err = capsys.readouterr().err
    assert status in (0, 2), (argv, status, err[-3000:])
    if status == 2:
        assert err.count("\n") == 1, (argv, err[-3000:])
        assert _listing(folder) == before, argv
    for name in set(_listing(folder)) - set(before):  # a successful export may write; start the next example clean
        path = folder / name
        if path.is_file():
            path.unlink()


@FAST
@given(args=argument_lists)
def test_cli_argument_lists(cli_folder, capsys, args) -> None:
    _argv_is_success_or_one_line_exit_2(cli_folder, capsys, args)


@pytest.mark.slow
@LONG
@given(args=argument_lists)
def test_cli_argument_lists_long(cli_folder, capsys, args) -> None:
    _argv_is_success_or_one_line_exit_2(cli_folder, capsys, args)


# ---------------------------------------------------------------- npz contents

DTYPES = st.sampled_from([np.uint8, np.float32, np.float64, np.float16, np.int64, np.int8, np.bool_, np.uint64])
small_arrays = hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5))
label_arrays = st.one_of(hnp.arrays(st.sampled_from([np.int64, np.float64, np.uint8, np.int8]),
                                    hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=12)),
                         st.just(np.array(["a", "b", "a", "b"])))
split_arrays = st.one_of(hnp.arrays(st.sampled_from([np.int64, np.bool_, np.float32]), st.integers(0, 12)),
                         st.lists(st.sampled_from(["train", "test", "val"]), max_size=12).map(np.array))
npz_contents = st.fixed_dictionaries({"x": small_arrays, "y": label_arrays}, optional={"split": split_arrays})
plausible_images = st.one_of(
    st.builds(lambda n, shape: (n, shape), st.integers(0, 12), st.sampled_from([(4, 4), (4, 4, 3)])).flatmap(
        lambda ns: hnp.arrays(np.uint8, (ns[0], *ns[1]))),
    st.integers(0, 12).flatmap(lambda n: hnp.arrays(np.float32, (n, 1, 4, 4), elements=st.floats(0, 1, width=32))))
images_and_labels = plausible_images.flatmap(lambda x: st.fixed_dictionaries(
    {"x": st.just(x), "y": hnp.arrays(np.int64, (len(x),), elements=st.integers(-1, 3))},
    optional={"split": hnp.arrays(np.int64, (len(x),), elements=st.integers(0, 2))}))


def _npz_is_a_dataset_or_one_user_error(arrays: dict[str, np.ndarray]) -> None:
    with _scratch() as folder:
        path = folder / "d.npz"
        np.savez(path, **arrays)
        try:
            data = load_dataset(f"npz:{path}")
        except UserError as exc:
            assert "\n" not in str(exc).strip(), str(exc)
            return
        assert isinstance(data, DatasetSplits) and len(data.train) and len(data.test)
        assert int(data.train.y.min()) >= 0 and int(data.test.y.max()) < data.num_classes


test_npz_contents, test_npz_contents_long = fast_and_long(st.one_of(npz_contents, images_and_labels),
                                                          _npz_is_a_dataset_or_one_user_error)


# ---------------------------------------------------------------- checkpoint bytes

def _torch_bytes(obj: Any, legacy: bool = False) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy)
    return buffer.getvalue()


STATE = {"layer.weight": torch.arange(6.0).reshape(3, 2), "layer.bias": torch.zeros(3)}
VALID = [_torch_bytes(STATE), _torch_bytes(STATE, legacy=True), save_safetensors(STATE), _torch_bytes({"state_dict": STATE})]


@st.composite
def checkpoint_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, or a valid checkpoint with bytes flipped, cut or appended."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data) + draw(st.binary(max_size=16))


def _checkpoint_is_tensors_or_one_user_error(content: bytes) -> None:
    with _scratch() as folder:
        path = folder / "w.pt"
        path.write_bytes(content)
        try:
            state, _ = read_checkpoint(path)
        except UserError as exc:
            assert "\n" not in str(exc).strip(), str(exc)
            return
        assert state and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


test_checkpoint_bytes, test_checkpoint_bytes_long = fast_and_long(checkpoint_bytes(), _checkpoint_is_tensors_or_one_user_error)


# ---------------------------------------------------------------- cache manifests

json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                           max_leaves=12)
manifests = st.one_of(json_values.map(json.dumps), st.binary(max_size=64),
                      st.fixed_dictionaries({"sha256": st.just("SHA"), "metadata": json_values}).map(json.dumps))


def _manifest_is_an_artifact_or_a_rebuild(manifest: str | bytes) -> None:
    with _scratch() as folder:
        cache = ArtifactCache(folder)
        data_path = cache.save("things", "k", {"w": torch.ones(2)}, {"a": 1})
        sha = json.loads(data_path.with_suffix(".json").read_text())["sha256"]
        content = manifest.replace('"SHA"', json.dumps(sha)) if isinstance(manifest, str) else manifest
        data_path.with_suffix(".json").write_bytes(content.encode() if isinstance(content, str) else content)
        artifact = cache.load("things", "k")
        if artifact is None:
            assert not data_path.exists() and not data_path.with_suffix(".json").exists()
        else:
            assert isinstance(artifact.metadata, dict) and torch.equal(artifact.tensors["w"], torch.ones(2))


test_cache_manifests, test_cache_manifests_long = fast_and_long(manifests, _manifest_is_an_artifact_or_a_rebuild)


def test_the_fuzzers_reach_both_outcomes() -> None:
    """A fuzzer whose every example fails the same way tests nothing: each strategy must reach success and refusal."""
    assert os.environ.get("PUREBENCH_OFFLINE") == "1"
    with _scratch() as folder:
        ok = folder / "ok.pt"
        ok.write_bytes(VALID[0])
        assert read_checkpoint(ok)[0].keys() == STATE.keys()
    with pytest.raises(UserError):
        parse_spec({"n": "20"})
    assert parse_spec({"n": 20}).n == 20
