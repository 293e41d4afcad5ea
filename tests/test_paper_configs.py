"""The paper configs are what they claim: planned offline (no data, no training), every resolved attack setting
against appendix A.4 and Table 11, every AID preset against the README command lines, and the sensitivity blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.data import load_dataset
from bench.data.metadata import DatasetInfo, dataset_info
from bench.errors import DataUnavailableError
from bench.jobs import JobKind
from bench.plan import build_plan
from bench.plan_records import job_record
from bench.spec import load_spec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAPER_CONFIGS = {"svhn": "paper-svhn.toml", "cifar10": "paper-cifar10.toml", "cifar100": "paper-cifar100.toml",
                 "tinyimagenet": "paper-tinyimagenet.toml"}

# Appendix A.4: "For SVHN, we use the perturbation size 12/255 and the step size 2/255. For CIFAR-10,
# CIFAR-100, and TinyImageNet, we use the perturbation size 8/255 and the step size 1/255."
A4 = {"svhn": (12 / 255, 2 / 255), "cifar10": (8 / 255, 1 / 255), "cifar100": (8 / 255, 1 / 255),
      "tinyimagenet": (8 / 255, 1 / 255)}
# A.4: "l_2 metric for C&W and the l_inf metric for the others"; Table 11: PGD 40 iterations ("our work");
# "all other parameters are set by Foolbox to be its default values" (Foolbox 3.3.4, read from its source).
A4_ATTACKS = {
    "pgd": {"norm": "linf", "steps": 40, "random_start": True},
    "mim": {"norm": "linf", "steps": 10, "decay": 1.0, "random_start": False, "accumulate": "sign"},
    "deepfool": {"norm": "linf", "steps": 50, "candidates": 10, "overshoot": 0.02, "loss": "logits"},
    "cw": {"norm": "l2", "binary_search_steps": 9, "steps": 10000, "stepsize": 0.01, "confidence": 0.0,
           "initial_const": 1e-3, "abort_early": True},
}
ITERATIVE = ("pgd", "mim")
# Table 11 (SVHN, Madry): (a) attack eps, (b) attack iterations.
TABLE_11A = {e / 255 for e in (1, 2, 4, 8, 12, 16, 32)}
TABLE_11B = {"pgd": 40, "pgd100": 100, "pgd200": 200}
TABLE_17 = {"aid_n2": 2, "aid_n4": 4, "aid_n5": 5, "aid": 10, "aid_n20": 20}

# The AID-Purifier README's training command lines, verbatim after "python main.py -mc [base main classifer]".
README = {
    "svhn": "-ds svhn -layer2_off -layer3_off -tr_eps 0.047 -tr_alpha 0.008 -def_eps 0.047 -def_alpha 0.012 -gamma 2.0 "
            "-bcd 0 -acd 2",
    "cifar10": "-ds cifar10 -layer2_off -layer4_off -tr_eps 0.031 -tr_alpha 0.004 -def_eps 0.031 -def_alpha 0.008 -gamma 1.5",
    "cifar100": "-ds cifar100 -layer2_off -layer4_off -tr_eps 0.031 -tr_alpha 0.008 -def_eps 0.062 -def_alpha 0.008 "
                "-gamma 1.5",
    "tinyimagenet": "-ds tiny -layer1_off -layer4_off -tr_eps 0.062 -tr_alpha 0.004 -def_eps 0.031 -def_alpha 0.008 "
                    "-gamma 1.5",
}
# Its evaluation lines add -def_step (purification iterations N); the SVHN line has none (Table 6: N = 10).
README_DEF_STEP = {"svhn": None, "cifar10": 10, "cifar100": 20, "tinyimagenet": 20}
TABLE_6_N = 10
# Our reading of A.2 (see defenses/aid/presets.py): -bcd/-acd absent means one more layer each side than Table 5.
BCD_DEFAULT, ACD_DEFAULT = 1, 3


def readme_aid(dataset: str) -> dict:
    """The AID configuration a README command line asks for, in purebench's parameter names."""
    words = README[dataset].split()
    flags = {w[1:]: (words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("-") else True)
             for i, w in enumerate(words) if w.startswith("-")}
    steps = README_DEF_STEP[dataset] or TABLE_6_N
    return {"taps": tuple(f"layer{k}" for k in range(1, 5) if f"layer{k}_off" not in flags),
            "train_eps": float(flags["tr_eps"]), "train_step": float(flags["tr_alpha"]), "eps": float(flags["def_eps"]),
            "step": float(flags["def_alpha"]), "steps": steps, "gamma": float(flags["gamma"]),
            "branch_depth": 2 + int(flags.get("bcd", BCD_DEFAULT)), "head_depth": int(flags.get("acd", ACD_DEFAULT))}


@pytest.fixture(scope="module")
def no_data(tmp_path_factory):
    """An empty data directory, offline: no dataset can be read."""
    root = tmp_path_factory.mktemp("nodata")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUREBENCH_DATA", str(root))
        patch.setenv("PUREBENCH_OFFLINE", "1")
        yield root


@pytest.fixture(scope="module")
def records(no_data) -> dict[str, list[dict]]:
    """Each paper config's jobs, planned without data, as resolved records."""
    out = {}
    for dataset, name in PAPER_CONFIGS.items():
        plan = build_plan(load_spec(CONFIGS / name), read_data=False)
        assert (dataset in plan.provisional) is (dataset == "tinyimagenet")  # only TinyImageNet's fingerprint needs files
        out[dataset] = [job_record(job, plan.spec.components) for job in plan.ordered()]
    return out


def crafts(records: list[dict]) -> list[dict]:
    return [r for r in records if r["kind"] == JobKind.CRAFT.value]


def test_the_data_is_really_absent(no_data):
    for dataset in PAPER_CONFIGS:
        with pytest.raises(DataUnavailableError):
            load_dataset(dataset)


@pytest.mark.parametrize("dataset", PAPER_CONFIGS)
def test_every_attack_setting_is_appendix_a4(records, dataset):
    eps, step = A4[dataset]
    checked = set()
    for craft in crafts(records[dataset]):
        attack, params = craft["attack"], craft["attack"]["params"]
        if attack["base"] not in A4_ATTACKS:
            assert params["norm"] == "linf" and craft["eps"] == pytest.approx(eps), attack  # autoattack, square
            continue
        expected = dict(A4_ATTACKS[attack["base"]])
        if dataset == "svhn" and attack["label"] in TABLE_11B:
            expected["steps"] = TABLE_11B[attack["label"]]
        assert {k: params[k] for k in expected} == expected, attack
        if attack["base"] in ITERATIVE:
            assert params["step_size"] == pytest.approx(step), attack
        sweep = dataset == "svhn" and attack["label"] == "pgd" and craft["target"].startswith("svhn/wrn34_10/madry/")
        assert craft["eps"] in TABLE_11A if sweep else craft["eps"] == pytest.approx(eps), craft["label"]
        checked.add(attack["label"])
    assert {"pgd", "mim", "cw", "deepfool"} <= checked


def test_svhn_has_table_11s_sweeps(records):
    madry = [c for c in crafts(records["svhn"]) if c["target"] == "svhn/wrn34_10/madry/seed0" and c["threat"]["model"] == "oblivious"]
    assert {c["eps"] for c in madry if c["attack"]["label"] == "pgd"} == TABLE_11A
    by_label = {c["attack"]["label"]: c for c in madry if c["eps"] == pytest.approx(12 / 255)}
    assert {label: by_label[label]["attack"]["params"]["steps"] for label in TABLE_11B} == TABLE_11B
    evaluated = {(r["labels"]["attack"], r["labels"]["defense"], r["labels"]["eps"]) for r in records["svhn"]
                 if r["kind"] == "evaluate" and r["classifier"] == "svhn/wrn34_10/madry/seed0"}
    for eps in TABLE_11A:
        assert {("pgd", "none", eps), ("pgd", "aid", eps)} <= evaluated
    for label in TABLE_11B:
        assert {(label, "none", 12 / 255), (label, "aid", 12 / 255)} <= evaluated


def test_svhn_has_table_17_and_figure_6s_defense_sweeps(records):
    stages = {}
    for r in records["svhn"]:
        if r["kind"] == "evaluate" and r["classifier"] == "svhn/wrn34_10/madry/seed0" and r["labels"]["attack"] == "pgd" \
                and r["labels"]["eps"] == pytest.approx(12 / 255) and len(r["stack"]) == 1 and r["stack"][0]["base"] == "aid":
            stages[r["stack"][0]["label"]] = r["stack"][0]["params"]
    assert {label: stages[label]["steps"] for label in TABLE_17} == TABLE_17
    eps_sweep = {label: p["eps"] for label, p in stages.items() if label.startswith("aid_eps")}
    assert len(eps_sweep) >= 5 and min(eps_sweep.values()) < 0.04 < max(eps_sweep.values())
    assert all(p["step"] == 0.012 for p in stages.values())  # the defense step stays the preset's


@pytest.mark.parametrize("dataset", PAPER_CONFIGS)
def test_every_aid_stage_is_the_readme_command_line(records, dataset):
    expected = readme_aid(dataset)
    fits = [r for r in records[dataset] if r["kind"] == "fit" and r["stage"]["base"] == "aid"]
    assert fits
    for fit in fits:
        assert {k: fit["stage"]["params"][k] for k in expected} == expected, fit["label"]


def test_readme_parsing_reads_the_flags():
    """The transcription's reader on the SVHN line: the flags it exists to read."""
    assert readme_aid("svhn") == {"taps": ("layer1", "layer4"), "train_eps": 0.047, "train_step": 0.008, "eps": 0.047,
                                  "step": 0.012, "steps": 10, "gamma": 2.0, "branch_depth": 2, "head_depth": 2}


def test_dry_run_of_a_paper_config_works_without_the_dataset(no_data, tmp_path, monkeypatch, capsys, isolated_cache):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(CONFIGS / "paper-cifar10.toml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan of paper-cifar10") and "results/paper-cifar10.sqlite" in out
    assert list(tmp_path.iterdir()) == [] and list(isolated_cache.iterdir()) == [] and list(no_data.iterdir()) == []


def test_dry_run_jobs_lists_every_job_as_json(no_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = CONFIGS / "paper-cifar10.toml"
    assert main(["run", str(spec), "--dry-run", "--jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    plan = build_plan(load_spec(spec), read_data=False)
    jobs = [json.loads(line) for line in lines]
    assert [j["key"] for j in jobs] == list(plan.jobs)
    mim = next(j for j in jobs if j["kind"] == "craft" and j["attack"]["base"] == "mim")
    assert mim["eps"] == pytest.approx(8 / 255) and mim["attack"]["params"]["steps"] == 10 and "threat" in mim
    fit = next(j for j in jobs if j["kind"] == "fit" and j["stage"]["base"] == "aid")
    assert fit["stage"]["params"]["taps"] == ["layer1", "layer3"]
    train = next(j for j in jobs if j["kind"] == "train")
    assert train["classifier"]["recipe_config"]["config"]["epochs"] > 0


def test_tinyimagenet_keys_are_provisional_without_its_files(no_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(CONFIGS / "paper-tinyimagenet.toml"), "--dry-run"]) == 0
    assert "tinyimagenet: job keys are provisional" in capsys.readouterr().err


def test_mnist5k_metadata_is_what_the_loader_gives(mnist):
    assert dataset_info("mnist5k") == DatasetInfo.of(mnist)


def _report_data(dataset: str, stacks: list[str], spec: dict):
    import pandas as pd

    from bench.report.load import ReportData

    cells = pd.DataFrame({"dataset": [dataset] * len(stacks), "defense": stacks})
    return ReportData(Path("r.sqlite"), {}, spec, cells, pd.DataFrame())


def test_report_provenance_says_where_nrp_departs_from_the_seed_on_paper_datasets():
    from bench.report.provenance import seed_departures
    from defenses.nrp.config import SEED_DEPARTURES

    variant = {"defenses": {"nrp_dyn": {"base": "nrp", "params": {"dynamic": True}}}}
    assert seed_departures(_report_data("cifar10", ["none", "nrp_dyn+aid"], variant)) == [
        ("NRP (cifar10; the paper's Table 10)", SEED_DEPARTURES)]
    assert seed_departures(_report_data("cifar10", ["none", "aid"], {})) == []
    assert seed_departures(_report_data("mnist5k", ["nrp"], {})) == []  # not a paper dataset: nothing to compare with
