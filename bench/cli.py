"""The command line (``python run_bench.py ...``).

Errors a user can cause print one line on stderr and exit with status 2,
having written nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from attacks import ATTACKS
from attacks.threats import THREATS
from bench.atomic import write_text_atomic
from bench.auditing.frame import audit_frame, verdict_text
from bench.cache import ArtifactCache
from bench.catalog import catalog, defense_flags
from bench.classifiers import ClassifierId, obtain_classifier
from bench.data import DATASETS, load_dataset
from bench.device import resolve_device
from bench.errors import UserError
from bench.export import export, render
from bench.models import ARCHS
from bench.plan import Plan
from bench.plan_records import job_lines
from bench.recipes import RECIPES
from bench.report import render_report
from bench.run import RunOptions, requested_workers, results_path, run_spec
from bench.run_outlook import outlook
from bench.run_summary import summary_text
from bench.spec import Spec, audited, checkpoint_overrides, load_spec
from bench.store import done_keys, read_run, set_aside
from bench.thread_policy import resolve_parallelism, single_process_threads, torch_threads
from defenses import DEFENSES

EXIT_USER_ERROR = 2
EXIT_FAILED_JOBS = 1


def one_line(message: str) -> str:
    """``message`` on one line: line breaks (in a quoted file name, a value, a library's text) written as ``\\n``."""
    return message.strip().replace("\r", "\\r").replace("\n", "\\n")


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {one_line(message)} (see --help)\n")


def _catalogs() -> dict[str, Callable[[], list[str]]]:
    """Per kind, its lines for ``list``: each name and what it is (defenses with their flags)."""
    return {"datasets": lambda: catalog(DATASETS), "archs": lambda: catalog(ARCHS), "recipes": lambda: catalog(RECIPES),
            "defenses": lambda: catalog(DEFENSES, defense_flags, class_first=True),
            "attacks": lambda: catalog(ATTACKS, class_first=True), "threats": lambda: catalog(THREATS, class_first=True)}


LIST_KINDS = ("archs", "attacks", "datasets", "defenses", "recipes", "threats")


def cmd_list(args: argparse.Namespace) -> int:
    for line in _catalogs()[args.kind]():
        print(line)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    data = load_dataset(args.name)
    c, h, w = data.image_shape
    print(f"dataset      {data.name}")
    print(f"train        {len(data.train)}")
    print(f"test         {len(data.test)}")
    print(f"image shape  {c}x{h}x{w} (channels x height x width)")
    print(f"classes      {data.num_classes}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    with torch_threads(single_process_threads()):
        loaded = obtain_classifier(ClassifierId(args.dataset, args.arch, args.recipe, args.seed), device=device)
    meta = loaded.metadata
    state = "trained now" if loaded.trained_now else "from the cache"
    print(f"{args.dataset}/{args.arch}/{args.recipe}/seed{args.seed}: clean accuracy "
          f"{100 * meta.get('clean_accuracy', float('nan')):.2f}%, "
          f"training {meta.get('train_seconds', float('nan')):.1f}s ({state}) on {meta.get('device', device)}")
    print(f"checkpoint: {ArtifactCache().root / 'classifiers' / (loaded.key + '.safetensors')}")
    return 0


AXIS_FLAGS = {"dataset": "datasets", "arch": "archs", "recipe": "recipes", "defense": "defenses", "attack": "attacks",
              "threat": "threats", "eps": "eps", "lam": "lam", "source": "sources"}
SCALAR_FLAGS = ("n", "seed", "device")
QUICK_SPEC = Path(__file__).resolve().parents[1] / "configs" / "quick.toml"


def _set_aside_older_run(path: Path, spec: Spec) -> None:
    """The main job's database from an earlier configs/quick.toml moves aside, so the main command just works."""
    run = read_run(path)
    if run is not None and run["spec_digest"] != spec.digest():
        print(f"note: {path} holds results of an earlier {QUICK_SPEC.name}; moved them to {set_aside(path)}", file=sys.stderr)


def _run(spec_path: Path | None, args: argparse.Namespace, argv: Sequence[str], audit: bool = False, *,
         set_aside_older: bool = False) -> int:
    if args.jobs and not args.dry_run:
        raise UserError("--jobs lists the jobs of a dry run and runs nothing; add --dry-run")
    overrides = {axis: getattr(args, flag) for flag, axis in AXIS_FLAGS.items()}
    overrides.update({flag: getattr(args, flag) for flag in SCALAR_FLAGS})
    if args.checkpoint is not None:
        overrides.update(checkpoint_overrides(args.arch, args.checkpoint, args.recipe))
    spec = load_spec(spec_path, overrides=overrides, assignments=args.set or (), name=args.name)
    if audit:
        spec = audited(spec) if args.name is None else replace(audited(spec), name=spec.name)
    if set_aside_older and args.results is None and args.name is None and not args.dry_run:
        _set_aside_older_run(results_path(spec, None), spec)
    options = RunOptions(results=args.results, executor=args.executor, ray_address=args.ray_address, dry_run=args.dry_run,
                         argv=list(argv), workers=args.workers)
    summary = run_spec(spec, options)
    if args.dry_run:
        if args.jobs:
            for line in job_lines(summary.plan):
                print(line)
        else:
            print(f"plan of {spec.name} ({len(summary.plan.jobs)} jobs; results would go to {summary.path}):")
            print(summary.plan.table(done=done_keys(summary.path)))
            print(_outlook(summary.plan, done_keys(summary.path), spec, args.workers))
        for dataset, why in summary.plan.provisional.items():
            print(f"note: {dataset}: job keys are provisional, as {why}", file=sys.stderr)
        return 0
    print(summary_text(summary.path))
    if summary.plan.spec.audits:
        print("\naudit:\n" + verdict_text(audit_frame(summary.path)))
    counts = ", ".join(f"{v} {k}" for k, v in sorted(summary.statuses.items()))
    print(f"\njobs: {counts} ({summary.ran} run now)")
    for label, error in summary.failures:
        print(f"failed: {label}: {error}", file=sys.stderr)
    print(f"results: {summary.path}")
    if args.report:
        print(f"report: {_report(summary.path, None)}")
    return 0 if summary.ok else EXIT_FAILED_JOBS


def _outlook(plan: Plan, done: set[str], spec: Spec, workers: int | None) -> str:
    parallelism = resolve_parallelism(resolve_device(spec.device), requested_workers(spec, workers), spec.threads)
    return outlook(plan, done, ArtifactCache(), parallelism.workers)


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args.spec, args, args.argv)


def cmd_audit(args: argparse.Namespace) -> int:
    """The matrix of the spec (cached work is reused) and the audit of each of its (classifier, stack)."""
    return _run(args.spec, args, args.argv, audit=True)


def cmd_main(args: argparse.Namespace) -> int:
    """The main job: configs/quick.toml end to end (training included), then its report."""
    args.report = True
    return _run(QUICK_SPEC, args, args.argv, set_aside_older=True)


def cmd_export(args: argparse.Namespace) -> int:
    if args.what == "audit":
        text = render(audit_frame(args.results), args.format, "Audit checks and verdicts", "audit")
    else:
        text = export(args.results, args.format, all_columns=args.all_columns)
    if args.output is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(args.output, text)
        print(f"wrote {args.output}")
    return 0


def _report(results: Path, out_dir: Path | None, examples: bool = False) -> Path:
    """Render the report of ``results`` (default folder: reports/<run name>/); returns its index page."""
    return render_report(results, out_dir, examples=examples)


def cmd_report(args: argparse.Namespace) -> int:
    print(f"report: {_report(args.results, args.output, args.examples)}")
    return 0


COMPARE_DIR = Path("reports") / "compare"


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.atomic import write_text_atomic
    from bench.compare import display_frame, leaderboard
    from bench.export import to_markdown

    board = leaderboard(args.results, allow_mismatch=args.allow_mismatch)
    shown = display_frame(board)
    out = args.output or COMPARE_DIR
    out.mkdir(parents=True, exist_ok=True)
    files = {"leaderboard.csv": board.to_csv(index=False), "leaderboard.md": to_markdown(shown),
             "leaderboard.tex": shown.to_latex(index=False, escape=True, na_rep="", float_format="%.2f")}
    for name, text in files.items():
        write_text_atomic(out / name, text)
    sys.stdout.write(to_markdown(shown))
    print(f"leaderboard: {', '.join(str(out / name) for name in files)}")
    return 0


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help="dataset(s), comma-separated")
    p.add_argument("--arch", help="arch(s), comma-separated (with --checkpoint: the checkpoint's one arch)")
    p.add_argument("--checkpoint", type=Path,
                   help="evaluate this weights file (.pt/.pth read with weights_only=True, or .safetensors) of --arch")
    p.add_argument("--recipe", help="recipe(s), comma-separated")
    p.add_argument("--defense", help="defense stacks, comma-separated; stages joined by '+', e.g. none,aid,pixeldefend+aid")
    p.add_argument("--attack", help="attack(s), comma-separated")
    p.add_argument("--threat", help="threat model(s): oblivious auxaware adaptive blackbox transfer")
    p.add_argument("--eps", help="eps values, comma-separated; fractions allowed (8/255)")
    p.add_argument("--lam", help="lambda values of the auxaware threat, comma-separated")
    p.add_argument("--source", help="transfer sources: (same|ARCH)[/RECIPE][@SEED], comma-separated, e.g. same,vgg19")
    p.add_argument("--n", type=int, help="evaluate the first N test examples")
    p.add_argument("--seed", type=int)
    p.add_argument("--name", help="run name (results/NAME.sqlite)")
    p.add_argument("--results", type=Path, help="results database path")
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.add_argument("--ray-address", help="join this Ray cluster (default: start a local one)")
    p.add_argument("--workers", type=int,
                   help="job processes of the local executor (default: the spec's workers, else one per core or per GPU)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="set a spec key, e.g. attack_params.pgd.steps=10 (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="print the plan (jobs per kind, reuse) and run nothing")
    p.add_argument("--jobs", action="store_true",
                   help="with --dry-run: list every job, one JSON object per line, with its settings fully resolved")


def _version() -> str:
    """The installed distribution's version (``unknown`` when run from a tree that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"purebench {version('purebench')}"
    except PackageNotFoundError:
        return "purebench (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="run_bench.py", description="purebench: benchmark adversarial defenses.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    _add_run_flags(parser)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.set_defaults(func=cmd_main)
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)

    p = sub.add_parser("list", help="list registered names of a kind")
    p.add_argument("kind", choices=LIST_KINDS)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("data", help="split sizes, image shape and classes of a dataset")
    p.add_argument("name")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("train", help="train (or fetch from the cache) one base classifier")
    p.add_argument("--dataset", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--recipe", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.set_defaults(func=cmd_train)

    for name, func, text in (("run", cmd_run, "run (or resume) a matrix from a spec file and/or flags"),
                             ("audit", cmd_audit, "run a spec's matrix and audit each (classifier, stack): verdicts, "
                                                  "worst-case numbers")):
        p = sub.add_parser(name, help=text)
        p.add_argument("spec", nargs="?", type=Path, help="experiment spec (.toml); see configs/")
        _add_run_flags(p)
        p.add_argument("--device", choices=["auto", "cpu", "cuda"])
        p.add_argument("--report", action="store_true", help="write the report after the run")
        p.set_defaults(func=func)

    p = sub.add_parser("export", help="export a results database as a table")
    p.add_argument("results", type=Path)
    p.add_argument("--format", required=True, choices=["csv", "json", "markdown", "latex"])
    p.add_argument("--what", default="results", choices=["results", "audit"],
                   help="results: one row per result; audit: one row per audit check and stack")
    p.add_argument("--all-columns", action="store_true",
                   help="every column the store keeps (keys, hashes, timings), not only the reader's")
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="one leaderboard across results databases (csv, markdown, latex)")
    p.add_argument("results", type=Path, nargs="+")
    p.add_argument("-o", "--output", type=Path, help=f"folder of the leaderboard files (default: {COMPARE_DIR}/)")
    p.add_argument("--allow-mismatch", action="store_true",
                   help="put rows measured under different n, eps, attack settings or threats in one table")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="render the report of a results database")
    p.add_argument("results", type=Path)
    p.add_argument("-o", "--output", type=Path, help="report folder (default: reports/<run name>/)")
    p.add_argument("--examples", action="store_true",
                   help="add per defense stack a grid of examples it wins and loses (images from the artifact cache)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = [parser.prog, *(argv if argv is not None else sys.argv[1:])]  # the whole command, so a bare one shows
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
