"""How each job kind's cost grows from mnist5k to CIFAR-10, and from it a projection of a paper matrix on one GPU.

    OMP_NUM_THREADS=1 python benchmarks/cost_growth.py MNIST_DB CIFAR_DB [--paper configs/paper-cifar10.toml]
        [--data-dir DIR] [--gpu-tflops 25 | --gpu-image-steps-per-second R] [--record]

The growth table reads two finished runs' databases (recorded CPU seconds per
job, ``jobs.details_json``; the settings each evaluation resolved,
``stage_settings`` and ``attack_settings``) and divides each cost by the work
its settings imply: seconds per image per attack step (oblivious PGD on the
madry classifier; adaptive PGD through aid), per AID purification step (Table
2's ``cpu_seconds_per_image`` at batch 256 over AID's ``steps``), per training
epoch of madry and per image per epoch (with the inner attack steps, resolved
through the recipe's presets), per aid fit epoch.  Beside them: forward FLOPs
per image of the networks, counted with ``torch.utils.flop_counter``.
``--data-dir`` is the directory the runs' relative ``npz:`` paths resolve
against (the one they were started from); it is read only for the training-set
size of a dataset that is not registered.

The projection plans ``--paper`` through the harness (the jobs of ``run_bench.py
run SPEC --dry-run --jobs``, settings resolved) and models each job's work in
two parts.

Classifier passes: one forward plus input-backward pass of one image through
the classifier, the unit of an attack step and of ``pgd_throughput.py``'s rate.

- train: epochs x training images x (inner attack steps + u), u the FLOPs of a
  weight update (forward + full backward) over those of an attack pass;
- pgd, mim, apgd: n x steps x restarts;  cw: n x binary-search steps x steps;
  deepfool: n x steps x (candidates - 1), one gradient per candidate class;
  autoattack (standard): n x (APGD-CE + 9 x APGD-T + 9 x FAB-T iterations +
  Square's queries x f, f a forward's FLOPs over a pass's, counted).  C&W, DeepFool and
  AutoAttack stop examples early (abort-early, success, the cascade), so their
  rows are upper bounds;
- adaptive PGD through a stack: n x restarts x steps x (1 + E x (1 + a)): the
  oblivious start, then per step one pass of the classifier on the purified
  input plus ``a``, the stages' own passes (0 for BPDA stages), E = the EOT
  samples when a stage is randomized;
- auxaware PGD (lam > 0): n x steps x (1 + a_aux), with the stages before
  AID (PixelDefend in pixeldefend+aid) run at every step; at lam = 0 plain PGD;
- evaluate: n x draws x (f, a forward, + the stack's passes);
- fit aid: epochs x training images x (train_steps + 1) (its PGD examples and
  the forward that taps them; D's own cost is small beside WRN-34-10's).

AID's passes are measured: on CIFAR-10 (JPEG) the cost of an adaptive step
through aid, of one purification (Table 2) and, on mnist5k, of an auxaware
step, each over the oblivious PGD step on the same classifier and run.  The
measuring classifier is the small CNN, beside which AID's discriminator is not
small, so each ratio is rescaled by FLOPs: a measured ratio m over (1 + d_s),
times (1 + d_w), with d the discriminator's forward FLOPs over the classifier's
(s: the measuring run's, w: WRN-34-10's), on the assumption that CPU time
follows FLOPs between the two networks.

Purifier-only work (the other purifiers do not involve the classifier), in
FLOPs from their configured sizes, F the forward FLOPs per image of the network
built from the resolved settings, a backward counted as 2 F for a weight update
and F for an input gradient: PixelDefend purifies with C forwards of its
PixelCNN (the fast decoder) and fits epochs x images x 3 F; Defense-GAN
purifies with restarts x search steps x 2 F_G and fits train_steps x batch x
(4 F_G + 9 F_D) (one discriminator step on a real and a fake batch, one
generator step); NRP purifies with one forward and fits feature_epochs x images
x 3 F_feat + epochs x images x (3 F + (ssp_steps + 2) x 3 F_feat + 6 F_critic);
DIR purifies two masked copies (2 F) per draw; it fits with images x
pretrain_steps classifier passes (its PGD set), pretrain_epochs x images x 12 F
(a clean and an adversarial image, two masked copies each), then epochs x
images x ((attack_steps + 1) x 6 F + (attack_steps + rep_steps + 2) classifier
passes).  BPDA stages run their purifier once per attack step and EOT sample.

GPU time = classifier passes x the WRN-34-10 pass's FLOPs + purifier FLOPs,
over an assumed sustained rate: ``--gpu-tflops`` (default 25, an assumption
about float32 convolutions on one data-centre GPU, not a measurement).
``benchmarks/gpu_check.sh`` runs ``pgd_throughput.py`` on WRN-34-10 at batch 256,
which measures the real rate in images x steps per second; give it as
``--gpu-image-steps-per-second`` and it replaces the assumption (the purifiers'
FLOPs then run at the FLOP rate it implies).  Data loading, evaluation
bookkeeping and Table 2's timing calls are left out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sqlite3
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from recording import command_line, machine, record_section  # noqa: E402

from bench.classifiers import ClassifierId, make_recipe  # noqa: E402
from bench.data.metadata import dataset_info  # noqa: E402
from bench.data.registry import load_dataset  # noqa: E402
from bench.errors import UserError  # noqa: E402
from bench.models import ARCHS  # noqa: E402
from bench.plan import build_plan  # noqa: E402
from bench.plan_records import job_record  # noqa: E402
from bench.spec import load_spec  # noqa: E402
from defenses.aid.discriminator import Discriminator as AIDDiscriminator  # noqa: E402
from defenses.aid.features import tap_widths  # noqa: E402
from defenses.defensegan.networks import Discriminator as GANDiscriminator  # noqa: E402
from defenses.defensegan.networks import Generator  # noqa: E402
from defenses.dir.denoiser import Denoiser  # noqa: E402
from defenses.nrp.critic import Critic  # noqa: E402
from defenses.nrp.network import PurifierNet  # noqa: E402
from defenses.pixeldefend.network import PixelCNN  # noqa: E402

HEADING = "## CIFAR-10 (JPEG): cost growth from mnist5k, and the paper matrix on one GPU"
DEFAULT_TFLOPS = 25.0
#: AutoAttack's standard version: APGD-CE and APGD-T / FAB-T (9 target classes) at 100 iterations, Square at 5000 queries.
AUTOATTACK_STANDARD = {"n_iter": 100, "n_target_classes": 9, "n_queries": 5000}


class CostDataError(UserError):
    """A results database lacks what the growth table needs."""


# --- FLOPs ---------------------------------------------------------------------------------------------------------

def forward_flops(model: nn.Module, *inputs: torch.Tensor) -> float:
    """FLOPs of one forward pass on a batch of one, per FlopCounterMode (2 per multiply-add)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(*inputs)
    return float(counter.get_total_flops())


def pass_flops(model: nn.Module, x: torch.Tensor, *, weights: bool) -> float:
    """FLOPs of a forward plus backward of one image: to the input only (an attack step), or with weight gradients."""
    model.eval()
    x = x.clone().requires_grad_(True)
    for p in model.parameters():
        p.requires_grad_(weights)
    with FlopCounterMode(display=False) as counter:
        loss = model(x).logsumexp(1).sum()
        loss.backward()
    return float(counter.get_total_flops())


def classifier(arch: str, image_shape: Sequence[int]) -> nn.Module:
    channels = image_shape[0]
    return ARCHS.create(arch, num_classes=10, image_shape=tuple(image_shape), mean=[0.5] * channels, std=[0.25] * channels)


def aid_discriminator_ratio(model: nn.Module, image_shape: Sequence[int], aid: Mapping[str, Any]) -> float:
    """AID's discriminator's forward FLOPs over the classifier's, for its taps of this classifier."""
    widths = tap_widths(model, image_shape, aid["taps"], torch.device("cpu"))
    disc = AIDDiscriminator(widths, aid["width"], aid["branch_depth"], aid["head_depth"])
    return forward_flops(disc, [torch.zeros(1, w) for w in widths]) / forward_flops(model, torch.zeros(1, *image_shape))


# --- the growth table ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UnitCosts:
    """One run's CPU seconds per unit of work, with the settings that define the unit."""

    run: str  # the run's name
    dataset: str
    arch: str
    image_shape: tuple[int, ...]
    train_images: int
    pgd_step: float  # CPU s per image per step, oblivious PGD on madry
    adaptive_aid_step: float  # CPU s per image per step, adaptive PGD through aid
    aid_purify_step: float  # CPU s per image per AID step (Table 2, batch 256)
    madry_epoch: float  # CPU s per training epoch
    madry_inner_steps: int
    aid_fit_epoch: float  # CPU s per fit epoch
    aid_train_steps: int
    aid: Mapping[str, Any]  # aid's resolved settings in this run
    auxaware_step: float | None  # CPU s per image per step, auxaware PGD vs aid with lam > 0 (None: not in the run)

    @property
    def madry_image_epoch(self) -> float:
        return self.madry_epoch / self.train_images

    @property
    def aid_fit_image_epoch(self) -> float:
        return self.aid_fit_epoch / self.train_images


def _read(db: Path, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
    if not db.is_file():
        raise CostDataError(f"{db}: no such results database; give the path of a finished run's .sqlite")
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        con.row_factory = sqlite3.Row
        return con.execute(sql, args).fetchall()


def _attack_cost(db: Path, threat: str, defense: str, where: str = "") -> tuple[float, float]:
    """Summed craft CPU seconds and image-steps of the madry classifier's PGD sets under ``threat`` against ``defense``."""
    rows = _read(db, "SELECT r.n, e.details_json AS eval, c.details_json AS craft FROM results r "
                     "JOIN jobs e ON e.key = r.job_key JOIN jobs c ON c.key = 'craft-' || r.advset_key "
                     "WHERE r.attack_base = 'pgd' AND r.recipe = 'madry' AND r.threat_model = ? AND r.defense = ? "
                     f"AND c.status = 'done' {where}", (threat, defense))
    seconds = image_steps = 0.0
    for row in rows:
        settings = json.loads(row["eval"])["attack_settings"]
        seconds += json.loads(row["craft"])["cpu_seconds"]
        image_steps += row["n"] * settings["steps"] * settings.get("restarts", 1)
    return seconds, image_steps


def _per(cost: tuple[float, float], what: str, db: Path) -> float:
    seconds, units = cost
    if not units:
        raise CostDataError(f"{db}: no finished {what}; the growth table needs a run with the madry classifier, "
                            "none and aid, oblivious and adaptive PGD (configs/quick.toml, configs/cifar10-jpeg.toml)")
    return seconds / units


def _job_cpu(db: Path, label: str) -> float:
    rows = _read(db, "SELECT details_json FROM jobs WHERE label = ? AND status = 'done'", (label,))
    if not rows:
        raise CostDataError(f"{db}: no finished job {label!r}")
    return json.loads(rows[0]["details_json"])["cpu_seconds"]


def dataset_shape(dataset: str, data_dir: Path) -> tuple[int, tuple[int, ...]]:
    """The training-set size and image shape: from the registry's metadata, else by loading the dataset as the run
    did (relative paths from ``data_dir``)."""
    info = dataset_info(dataset)
    if info is not None:
        return info.train_size, tuple(info.image_shape)
    with contextlib.chdir(data_dir):
        data = load_dataset(dataset)
    return len(data.train), tuple(data.image_shape)


def unit_costs(db: Path, data_dir: Path) -> UnitCosts:
    """The unit costs of one run, from its recorded jobs and the settings its evaluations resolved."""
    clean = _read(db, "SELECT r.dataset, r.arch, r.seed, j.details_json FROM results r JOIN jobs j ON j.key = r.job_key "
                      "WHERE r.attack = 'clean' AND r.defense = 'aid' AND r.recipe = 'madry'")
    if not clean:
        raise CostDataError(f"{db}: no clean evaluation of aid on a madry classifier; the growth table needs one")
    dataset, arch, seed = clean[0]["dataset"], clean[0]["arch"], clean[0]["seed"]
    details = json.loads(clean[0]["details_json"])
    aid = details["stage_settings"]["aid"]
    run = _read(db, "SELECT name, spec_json FROM run")[0]
    spec = json.loads(run["spec_json"])
    recipe_params = spec.get("recipes", {}).get("madry", {}).get("params", {})
    recipe = make_recipe(ClassifierId(dataset, arch, "madry", seed, recipe_params)).identity()["config"]
    label = f"{dataset}/{arch}/madry/seed{seed}"
    auxaware = _attack_cost(db, "auxaware", "aid", "AND r.lam > 0")
    images, shape = dataset_shape(dataset, data_dir)
    return UnitCosts(
        run=run["name"], dataset=dataset, arch=arch, image_shape=shape, train_images=images,
        pgd_step=_per(_attack_cost(db, "oblivious", "none"), "oblivious PGD on madry", db),
        adaptive_aid_step=_per(_attack_cost(db, "adaptive", "aid"), "adaptive PGD through aid on madry", db),
        aid_purify_step=details["purification_timing"]["cpu_seconds_per_image"] / aid["steps"],
        madry_epoch=_job_cpu(db, f"train {label}") / recipe["epochs"], madry_inner_steps=recipe["attack_steps"],
        aid_fit_epoch=_job_cpu(db, f"fit aid on {label}") / aid["epochs"], aid_train_steps=aid["train_steps"], aid=aid,
        auxaware_step=auxaware[0] / auxaware[1] if auxaware[1] else None)


def growth_rows(small: UnitCosts, large: UnitCosts) -> list[tuple[str, float, float]]:
    """(what, small run's value, large run's value) for each unit cost."""
    return [
        ("CPU s per image per attack step, oblivious PGD on madry", small.pgd_step, large.pgd_step),
        ("CPU s per image per attack step, adaptive PGD through aid", small.adaptive_aid_step, large.adaptive_aid_step),
        ("CPU s per image per AID purification step (Table 2, batch 256)", small.aid_purify_step, large.aid_purify_step),
        ("CPU s per madry training epoch", small.madry_epoch, large.madry_epoch),
        ("CPU s per image per madry epoch", small.madry_image_epoch, large.madry_image_epoch),
        ("CPU s per image per madry epoch and pass (1 + inner steps)", small.madry_image_epoch / (1 + small.madry_inner_steps),
         large.madry_image_epoch / (1 + large.madry_inner_steps)),
        ("CPU s per aid fit epoch", small.aid_fit_epoch, large.aid_fit_epoch),
        ("CPU s per image per aid fit epoch", small.aid_fit_image_epoch, large.aid_fit_image_epoch),
    ]


def growth_table(small: UnitCosts, large: UnitCosts, flops: Sequence[tuple[str, float, float]]) -> str:
    lines = [f"| unit | {small.run} ({small.arch}) | {large.run} ({large.arch}) | ratio |", "|---|---|---|---|"]
    for what, a, b in [*growth_rows(small, large), *flops]:
        lines.append(f"| {what} | {a:.4g} | {b:.4g} | {b / a:.2f}x |")
    return "\n".join(lines)


def settings_note(small: UnitCosts, large: UnitCosts) -> str:
    def one(u: UnitCosts) -> str:
        return (f"{u.run} on {u.dataset}: {u.train_images:,} training images, madry with PGD-{u.madry_inner_steps} inside, "
                f"aid fitted with PGD-{u.aid_train_steps} examples and purifying in {u.aid['steps']} steps")
    return f"Settings the units are taken over ({one(small)}; {one(large)})."


# --- the work model ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Basis:
    """What the work model converts settings with: sizes, AID's measured passes, the purifiers' FLOPs."""

    train_images: int
    update_passes: float  # a weight update (forward + full backward) in attack passes
    forward_passes: float  # a forward alone in attack passes
    aid_step_passes: float  # one AID step in classifier passes, when adaptive PGD differentiates through it
    aid_purify_step_passes: float  # one AID purification step in classifier passes
    auxaware_passes: float  # the discriminator term of one auxaware step (lam > 0), in classifier passes
    purifier_flops: Mapping[str, Mapping[str, float]]  # per purifier: forward FLOPs per image of its networks
    colours: int  # PixelDefend decodes C channels


@dataclass(frozen=True)
class Work:
    passes: float = 0.0  # classifier passes
    flops: float = 0.0  # purifier-only FLOPs
    bound: bool = False  # an upper bound (the attack stops examples early)


def _stage(stage: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    return stage["base"], stage["params"]


def purify_work(stack: Iterable[Mapping[str, Any]], basis: Basis, *, gradient: bool) -> Work:
    """One purification of one image by ``stack``; ``gradient``: inside an adaptive step (AID unrolled, the others BPDA)."""
    passes = flops = 0.0
    for base, params in map(_stage, stack):
        f = basis.purifier_flops.get(base, {})
        if base == "aid":
            passes += params["steps"] * (basis.aid_step_passes if gradient else basis.aid_purify_step_passes)
        elif base == "pixeldefend":
            flops += basis.colours * f["pixelcnn"]
        elif base == "defensegan":
            flops += params["restarts"] * params["search_steps"] * 2 * f["generator"]
        elif base == "nrp":
            flops += f["purifier"]
        elif base == "dir":
            flops += 2 * f["denoiser"]
        elif base != "none":
            raise CostDataError(f"the work model has no cost basis for purifier {base!r}; add one to benchmarks/cost_growth.py")
    return Work(passes, flops)


def _autoattack_passes(params: Mapping[str, Any], forward: float) -> float:
    if params.get("version", "standard") != "standard":
        raise CostDataError(f"the work model knows AutoAttack's standard version only, not {params['version']!r}")
    get = {k: params.get(k) if params.get(k) is not None else v for k, v in AUTOATTACK_STANDARD.items()}
    return get["n_iter"] * (1 + 2 * get["n_target_classes"]) + get["n_queries"] * forward


def attack_passes(attack: Mapping[str, Any], basis: Basis) -> tuple[float, bool]:
    """Classifier passes per image of an attack on the bare classifier, and whether that is an upper bound."""
    base, p = attack["base"], attack["params"]
    if base in ("pgd", "mim"):
        return p["steps"] * p.get("restarts", 1), False
    if base == "apgd":
        return p["n_iter"] * p.get("restarts", 1), False
    if base == "cw":
        return p["binary_search_steps"] * p["steps"], True
    if base == "deepfool":
        return p["steps"] * (p["candidates"] - 1), True
    if base == "autoattack":
        return _autoattack_passes(p, basis.forward_passes), True
    raise CostDataError(f"the work model has no cost basis for attack {base!r}; add one to benchmarks/cost_growth.py")


def fit_work(stage: Mapping[str, Any], basis: Basis) -> Work:
    base, p = _stage(stage)
    images, f = basis.train_images, basis.purifier_flops.get(base, {})
    if base == "aid":
        return Work(passes=p["epochs"] * images * (p["train_steps"] + 1))
    if base == "pixeldefend":
        return Work(flops=p["epochs"] * images * 3 * f["pixelcnn"])
    if base == "defensegan":
        return Work(flops=p["train_steps"] * p["batch_size"] * (4 * f["generator"] + 9 * f["discriminator"]))
    if base == "nrp":
        per_image = 3 * f["purifier"] + (p["ssp_steps"] + 2) * 3 * f["features"] + 6 * f["critic"]
        return Work(flops=p["feature_epochs"] * images * 3 * f["features"] + p["epochs"] * images * per_image)
    if base == "dir":
        return Work(passes=images * p["pretrain_steps"] + p["epochs"] * images * (p["attack_steps"] + p["rep_steps"] + 2),
                    flops=images * f["denoiser"] * (p["pretrain_epochs"] * 12 + p["epochs"] * (p["attack_steps"] + 1) * 6))
    raise CostDataError(f"the work model has no cost basis for fitting {base!r}; add one to benchmarks/cost_growth.py")


def job_work(job: Mapping[str, Any], basis: Basis) -> tuple[str, Work]:
    """A planned job's kind (the row it counts in) and its work; ``job`` is a ``--dry-run --jobs`` record
    (evaluations with ``draws``, crafts with ``eot``, the EOT samples of its randomized stages or 1)."""
    kind = job["kind"]
    if kind == "train":
        config = job["classifier"]["recipe_config"]
        steps = config["config"]["attack_steps"] if job["classifier"]["recipe_base"] != "natural" else 0
        return (f"train {job['classifier']['recipe_base']}",
                Work(passes=config["config"]["epochs"] * basis.train_images * (steps + basis.update_passes)))
    if kind == "fit":
        return f"fit {job['stage']['base']}", fit_work(job["stage"], basis)
    if kind == "evaluate":
        stack = purify_work(job["stack"], basis, gradient=False)
        n = job["labels"]["n"] * job["draws"]
        return "evaluate", Work(n * (basis.forward_passes + stack.passes), n * stack.flops)
    if kind != "craft":
        raise CostDataError(f"the work model has no cost basis for {kind} jobs; add one to benchmarks/cost_growth.py")
    attack, threat, n = job["attack"], job["threat"]["model"], job["n"]
    name = f"craft {attack['base']}/{threat}"
    per_image, bound = attack_passes(attack, basis)
    stack = job["stack"] or []
    if threat == "adaptive" and stack:
        if attack["base"] not in ("pgd", "mim"):
            raise CostDataError(f"the work model covers adaptive PGD and MIM only, not {attack['base']!r}")
        steps = attack["params"]["steps"] * attack["params"].get("restarts", 1)
        inner = purify_work(stack, basis, gradient=True)
        e = job["eot"]
        return name, Work(n * steps * (1 + e * (1 + inner.passes)), n * steps * e * inner.flops, bound)
    if threat == "auxaware" and job["lam"]:
        steps = attack["params"]["steps"] * attack["params"].get("restarts", 1)
        before = [s for s in stack if s["base"] != "aid"]  # stages before AID run at every step (lam > 0)
        inner = purify_work(before, basis, gradient=True)
        return name, Work(n * steps * (1 + basis.auxaware_passes + inner.passes), n * steps * inner.flops, bound)
    return name, Work(n * per_image, 0.0, bound)


def total_work(jobs: Iterable[Mapping[str, Any]], basis: Basis) -> dict[str, tuple[int, Work]]:
    """Per job kind: jobs and summed work."""
    totals: dict[str, list[Any]] = defaultdict(lambda: [0, 0.0, 0.0, False])
    for job in jobs:
        kind, work = job_work(job, basis)
        row = totals[kind]
        row[0] += 1
        row[1] += work.passes
        row[2] += work.flops
        row[3] |= work.bound
    return {k: (c, Work(p, f, b)) for k, (c, p, f, b) in totals.items()}


def gpu_seconds(work: Work, pass_flops_: float, flop_rate: float) -> float:
    return (work.passes * pass_flops_ + work.flops) / flop_rate


def projection_table(totals: Mapping[str, tuple[int, Work]], pass_flops_: float, flop_rate: float) -> str:
    lines = ["| job kind | jobs | classifier passes | purifier-only PFLOP | projected GPU hours |", "|---|---|---|---|---|"]
    order = ("train", "fit", "craft", "evaluate")
    rows = sorted(totals.items(), key=lambda kv: (order.index(kv[0].split()[0]), kv[0]))
    all_work, jobs = Work(), 0
    for kind, (count, work) in rows:
        hours = gpu_seconds(work, pass_flops_, flop_rate) / 3600
        mark = " (upper bound)" if work.bound else ""
        lines.append(f"| {kind}{mark} | {count} | {work.passes:.3g} | {work.flops / 1e15:.3g} | {hours:,.1f} |")
        all_work = Work(all_work.passes + work.passes, all_work.flops + work.flops, all_work.bound or work.bound)
        jobs += count
    hours = gpu_seconds(all_work, pass_flops_, flop_rate) / 3600
    lines.append(f"| total | {jobs} | {all_work.passes:.3g} | {all_work.flops / 1e15:.3g} | {hours:,.1f} |")
    return "\n".join(lines)


# --- the harness side: plan, networks, measured ratios -------------------------------------------------------------

def planned_jobs(spec_path: Path) -> list[dict[str, Any]]:
    """The spec's jobs as ``--dry-run --jobs`` records, evaluations with their draws, crafts with their EOT samples."""
    plan = build_plan(load_spec(spec_path), read_data=False)
    records = []
    for job in plan.ordered():
        record = job_record(job, plan.spec.components)
        if record["kind"] == "evaluate":
            record["draws"] = job.task.draws
        elif record["kind"] == "craft":
            stages = [plan.spec.components.defenses[s.label] for s in job.task.stack or ()]  # built by validation
            record["eot"] = record["threat"]["params"].get("eot_samples", 1) if any(s.randomized for s in stages) else 1
        records.append(record)
    return records


def purifier_flops(jobs: Sequence[Mapping[str, Any]], image_shape: Sequence[int]) -> dict[str, dict[str, float]]:
    """Forward FLOPs per image of each purifier's networks, built from the settings the plan resolved."""
    stages = {s["base"]: s["params"] for j in jobs if j["kind"] == "fit" for s in [j["stage"]]}
    c, shape, x = image_shape[0], tuple(image_shape), torch.zeros(1, *image_shape)
    out: dict[str, dict[str, float]] = {}
    if (p := stages.get("pixeldefend")) is not None:
        net = PixelCNN(c, p["hidden"], p["blocks"], p["first_kernel"], p["kernel"])
        out["pixeldefend"] = {"pixelcnn": forward_flops(net, torch.zeros(1, *shape, dtype=torch.long))}
    if (p := stages.get("defensegan")) is not None:
        out["defensegan"] = {"generator": forward_flops(Generator(p["latent"], p["width"], shape), torch.zeros(1, p["latent"])),
                             "discriminator": forward_flops(GANDiscriminator(p["width"], shape), x)}
    if (p := stages.get("nrp")) is not None:
        out["nrp"] = {"purifier": forward_flops(PurifierNet(c, p["width"], p["blocks"]), x),
                      "critic": forward_flops(Critic(c, p["critic_width"]), x),
                      "features": forward_flops(classifier(p["feature_arch"], shape), x)}
    if (p := stages.get("dir")) is not None:
        out["dir"] = {"denoiser": forward_flops(Denoiser(c, p["width"]), x, torch.ones(1, 1, *shape[1:]))}
    return out


@dataclass(frozen=True)
class Measured:
    """AID's costs in classifier passes, measured on the small runs, before the FLOPs rescaling."""

    adaptive_step: float  # per AID step, inside an adaptive PGD step (the oblivious start and the classifier pass taken off)
    purify_step: float  # per AID purification step
    auxaware: float  # the discriminator term of one auxaware step
    adaptive_ratio_run: float  # d_s of the run the first two come from
    auxaware_ratio_run: float  # d_s of the run the third comes from


def measured_aid(large: UnitCosts, small: UnitCosts) -> Measured:
    """AID's passes from CIFAR-10 (adaptive, purification) and, where CIFAR-10 has no auxaware set, from mnist5k."""
    def d(u: UnitCosts) -> float:
        return aid_discriminator_ratio(classifier(u.arch, u.image_shape), u.image_shape, u.aid)
    aux_run = large if large.auxaware_step is not None else small
    if aux_run.auxaware_step is None:
        raise CostDataError("neither run has an auxaware PGD set against aid with lam > 0; the mnist5k main job has")
    return Measured(adaptive_step=(large.adaptive_aid_step / large.pgd_step - 2) / large.aid["steps"],
                    purify_step=large.aid_purify_step / large.pgd_step,
                    auxaware=aux_run.auxaware_step / aux_run.pgd_step - 1,
                    adaptive_ratio_run=d(large), auxaware_ratio_run=d(aux_run))


@dataclass(frozen=True)
class PaperNetwork:
    """The FLOP counts of the projected matrix's classifier that the report shows."""

    image_shape: tuple[int, ...]
    forward: float
    attack_pass: float  # forward + input gradient
    disc_ratio: float  # AID's discriminator over the classifier, forward FLOPs (d_w)


def paper_basis(jobs: Sequence[Mapping[str, Any]], measured: Measured) -> tuple[Basis, PaperNetwork]:
    """The basis for the paper's jobs, and its classifier's FLOP counts."""
    train = next(j for j in jobs if j["kind"] == "train")["classifier"]
    info = dataset_info(train["dataset"])
    if info is None:
        raise CostDataError(f"the projection needs a registered dataset (its size and image shape), not {train['dataset']!r}")
    net = classifier(train["arch"], info.image_shape)
    x = torch.rand(1, *info.image_shape)
    attack_pass, update = pass_flops(net, x, weights=False), pass_flops(net, x, weights=True)
    aid = next((j["stage"]["params"] for j in jobs if j["kind"] == "fit" and j["stage"]["base"] == "aid"), None)
    d_w = aid_discriminator_ratio(net, info.image_shape, aid) if aid is not None else 0.0
    forward = forward_flops(net, x)
    basis = Basis(train_images=info.train_size, update_passes=update / attack_pass, forward_passes=forward / attack_pass,
                  aid_step_passes=measured.adaptive_step / (1 + measured.adaptive_ratio_run) * (1 + d_w),
                  aid_purify_step_passes=measured.purify_step / (1 + measured.adaptive_ratio_run) * (1 + d_w),
                  auxaware_passes=measured.auxaware / (1 + measured.auxaware_ratio_run) * (1 + d_w),
                  purifier_flops=purifier_flops(jobs, info.image_shape), colours=info.image_shape[0])
    return basis, PaperNetwork(tuple(info.image_shape), forward, attack_pass, d_w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("small", type=Path, help="the mnist5k run's results database (e.g. the main job's)")
    parser.add_argument("large", type=Path, help="the CIFAR-10 (JPEG) run's results database")
    parser.add_argument("--paper", type=Path, default=Path("configs/paper-cifar10.toml"), help="the matrix to project")
    parser.add_argument("--data-dir", type=Path, default=Path.cwd(),
                        help="where the runs' relative npz: paths resolve (the directory they ran from; default: here)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--gpu-tflops", type=float, default=DEFAULT_TFLOPS,
                      help=f"assumed sustained GPU rate in TFLOP/s (default {DEFAULT_TFLOPS:g}, an assumption)")
    rate.add_argument("--gpu-image-steps-per-second", type=float,
                      help="measured WRN-34-10 PGD rate (pgd_throughput.py via gpu_check.sh); replaces --gpu-tflops")
    parser.add_argument("--record", action="store_true", help="write the tables into benchmarks/README.md")
    args = parser.parse_args()
    try:
        text = report(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(text)
    if args.record:
        record_section(HEADING, f"`{command_line()}` ({datetime.date.today()}; {machine()})\n\n{text}")


def _shape(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def report(args: argparse.Namespace) -> str:
    small, large = unit_costs(args.small, args.data_dir), unit_costs(args.large, args.data_dir)
    jobs = planned_jobs(args.paper)
    measured = measured_aid(large, small)
    basis, wrn = paper_basis(jobs, measured)
    fwd = [forward_flops(classifier(u.arch, u.image_shape), torch.zeros(1, *u.image_shape)) / 1e9 for u in (small, large)]
    flops = [(f"forward GFLOP per image of the classifier ({_shape(small.image_shape)}, {_shape(large.image_shape)})", *fwd)]
    if args.gpu_image_steps_per_second:
        flop_rate = args.gpu_image_steps_per_second * wrn.attack_pass
        rate = (f"the measured {args.gpu_image_steps_per_second:,.0f} WRN-34-10 image-steps per second "
                f"({flop_rate / 1e12:.1f} TFLOP/s)")
    else:
        flop_rate = args.gpu_tflops * 1e12
        rate = (f"an assumed sustained {args.gpu_tflops:g} TFLOP/s, i.e. {flop_rate / wrn.attack_pass:,.0f} WRN-34-10 "
                "image-steps per second (not measured: `benchmarks/gpu_check.sh` measures the rate with "
                "`pgd_throughput.py` on WRN-34-10 at batch 256; give it as --gpu-image-steps-per-second)")
    totals = total_work(jobs, basis)
    bounded = sum(gpu_seconds(w, wrn.attack_pass, flop_rate) for _, w in totals.values() if w.bound) / 3600
    aid_note = (
        f"WRN-34-10 on {_shape(wrn.image_shape)}: {wrn.forward / 1e9:.2f} GFLOP forward, {wrn.attack_pass / 1e9:.2f} GFLOP "
        f"per attack pass (forward + input gradient); a weight update costs {basis.update_passes:.2f} passes.  AID's "
        f"discriminator has {wrn.disc_ratio:.4f} of WRN-34-10's forward FLOPs, against {measured.adaptive_ratio_run:.2f} "
        f"of the small CNN's in {large.run} ({measured.auxaware_ratio_run:.2f} in the auxaware run), so AID's "
        "measured passes shrink on WRN-34-10: per AID step inside an adaptive step "
        f"{measured.adaptive_step:.2f} passes measured, {basis.aid_step_passes:.2f} projected; per purification step "
        f"{measured.purify_step:.2f} and {basis.aid_purify_step_passes:.2f}; the auxaware term {measured.auxaware:.2f} "
        f"and {basis.auxaware_passes:.2f}.")
    heading = (f"A projection, not a measurement: `{args.paper}` ({len(jobs)} jobs) on one GPU at {rate}, by the work "
               "model in `benchmarks/cost_growth.py`'s docstring:")
    bounds = (f"Of the total, {bounded:,.1f} GPU hours are upper bounds (C&W, DeepFool and AutoAttack at their full "
              "iteration counts; abort-early, success and AutoAttack's cascade stop most examples sooner).")
    return "\n\n".join(["How each unit of work grows (CPU seconds recorded per job, one torch thread):",
                         growth_table(small, large, flops), settings_note(small, large), aid_note, heading,
                         projection_table(totals, wrn.attack_pass, flop_rate), bounds])


if __name__ == "__main__":
    main()
