"""Loading a spec: a TOML file (or defaults), then ``--set`` assignments and flag overrides, then validation."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from bench.external_classifiers import CHECKPOINT
from bench.spec.model import CLASSIFIERS, SEEDS, Spec, SpecError
from bench.spec.validation import check_name, parse_spec


def load_spec(path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None,
              assignments: Sequence[str] = (), name: str | None = None) -> Spec:
    """The validated spec from ``path`` (or from defaults), with ``--set`` assignments and flag overrides.

    When flags or assignments change a spec and no ``name`` is given, the name
    gets a short digest suffix so the changed matrix has a results database of its own.
    """
    text = ""
    default_name = "adhoc"
    base_dir = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"spec file {path} does not exist; give the path of a .toml experiment spec (see configs/)")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"{path}: not a text file (not UTF-8 at byte {exc.start}); give a .toml experiment spec") from None
        default_name = path.stem
        base_dir = path.resolve().parent
    doc = _toml(text, str(path))
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    for assignment in assignments:
        apply_assignment(doc, assignment)
    apply_overrides(doc, overrides)
    spec = replace(parse_spec(doc, text=text, default_name=default_name, base_dir=base_dir),
                   overrides=_given(overrides, assignments))
    if name is not None:
        return replace(spec, name=check_name(name, "--name"))
    if overrides.keys() - {"name"} or assignments:
        return replace(spec, name=f"{spec.name}-{spec.digest()[:8]}")
    return spec


def _given(overrides: Mapping[str, Any], assignments: Sequence[str]) -> dict[str, Any]:
    """What the command line changed in the spec file, for provenance: ``--set`` keys with their text, then flags."""
    given: dict[str, Any] = {}
    for assignment in assignments:
        key, _, raw = assignment.partition("=")
        given[key.strip()] = raw.strip()
    return {**given, **{key: value for key, value in overrides.items() if key != "name"}}


def audited(spec: Spec) -> Spec:
    """``spec`` with every block audited (``run_bench.py audit``); a spec this changes gets the name ``<name>-audit``."""
    if all(block.audit for block in spec.blocks):
        return spec
    return replace(spec, blocks=tuple(replace(block, audit=True) for block in spec.blocks), name=f"{spec.name}-audit")


def checkpoint_overrides(arch: str | None, checkpoint: str | Path, recipe: str | None = None) -> dict[str, Any]:
    """The spec keys of one classifier from a weights file: ``--arch A --checkpoint PATH``, or ``bench.evaluate(PATH, arch=A)``."""
    if not arch or "," in arch:
        raise SpecError("a checkpoint needs the one arch its weights belong to: --arch NAME (arch=NAME from Python), "
                        "e.g. --arch smallcnn; see 'run_bench.py list archs'")
    if recipe is not None:
        raise SpecError("a checkpoint comes trained, so --recipe does not apply to it; drop --recipe")
    path = Path(checkpoint).expanduser().resolve()
    return {"archs": [CHECKPOINT], CLASSIFIERS: {CHECKPOINT: {"arch": arch, "checkpoint": str(path)}}}


def _toml(text: str, where: str) -> dict[str, Any]:
    """The parsed document; invalid TOML and nesting too deep for the parser are one ``SpecError``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML ({exc})") from None
    except RecursionError:
        raise SpecError(f"{where}: values nested too deeply to read; a spec needs a few levels of tables and lists") from None


def apply_assignment(doc: dict[str, Any], assignment: str) -> None:
    """``--set attack_params.pgd.steps=3``: a dotted key and a TOML value (a bare word is a string)."""
    key, sep, raw = assignment.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise SpecError(f"bad --set {assignment!r}; write KEY=VALUE with a dotted key, e.g. attack_params.pgd.steps=3")
    try:
        value = _toml(f"v = {raw.strip()}", f"--set {key.strip()}")["v"]
    except SpecError as exc:
        if "nested too deeply" in str(exc):
            raise
        value = raw.strip()
    table = doc
    for part in parts[:-1]:
        table = table.setdefault(part, {}) if isinstance(table, dict) else None
        if not isinstance(table, dict):
            raise SpecError(f"--set {assignment[:200]!r}: {part!r} is not a table")
    table[parts[-1]] = value


def apply_overrides(doc: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Flags replace a key at the top level and in every matrix block (``--eps`` also each attack's own eps)."""
    for key, value in overrides.items():
        doc[key] = value
        if key == "seed":
            doc.pop(SEEDS, None)  # --seed runs that one seed
        blocks, attack_params = doc.get("matrix", []), doc.get("attack_params", {})
        nested = [*(blocks if isinstance(blocks, list) else ()),  # a table of the wrong type is parse_spec's to report
                  *(attack_params.values() if key == "eps" and isinstance(attack_params, dict) else ())]
        for table in nested:
            if isinstance(table, dict):
                table.pop(key, None)
