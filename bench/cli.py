"""The command line (``python run_bench.py ...``).

Errors a user can cause print one line on stderr and exit with status 2,
having written nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Callable, NoReturn, Sequence

from bench.errors import UserError

EXIT_USER_ERROR = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def _registries() -> dict[str, Callable[[], list[str]]]:
    from attacks import ATTACKS
    from bench.data import DATASETS
    from bench.models import ARCHS
    from bench.recipes import RECIPES
    from defenses import DEFENSES

    return {"datasets": DATASETS.names, "archs": ARCHS.names, "recipes": RECIPES.names,
            "defenses": DEFENSES.names, "attacks": ATTACKS.names}


def cmd_list(args: argparse.Namespace) -> int:
    for name in _registries()[args.kind]():
        print(name)
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from bench.data import load_dataset

    data = load_dataset(args.name)
    c, h, w = data.image_shape
    print(f"dataset      {data.name}")
    print(f"train        {len(data.train)}")
    print(f"test         {len(data.test)}")
    print(f"image shape  {c}x{h}x{w} (channels x height x width)")
    print(f"classes      {data.num_classes}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bench.classifiers import ClassifierId, obtain_classifier
    from bench.device import resolve_device

    device = resolve_device(args.device)
    loaded = obtain_classifier(ClassifierId(args.dataset, args.arch, args.recipe, args.seed), device=device)
    meta = loaded.metadata
    state = "trained now" if loaded.trained_now else "from the cache"
    print(f"{args.dataset}/{args.arch}/{args.recipe}/seed{args.seed}: clean accuracy {meta.get('clean_accuracy', float('nan')):.4f}, "
          f"training {meta.get('train_seconds', float('nan')):.1f}s ({state}) on {meta.get('device', device)}")
    from bench.cache import ArtifactCache

    print(f"checkpoint: {ArtifactCache().root / 'classifiers' / (loaded.key + '.safetensors')}")
    return 0


def cmd_main(args: argparse.Namespace) -> int:
    """The main job on the embedded default: every mnist5k base classifier, trained or cached."""
    from bench.classifiers import ClassifierId, obtain_classifier
    from bench.data import load_dataset
    from bench.device import resolve_device

    device = resolve_device(args.device)
    data = load_dataset("mnist5k")
    print(f"{'classifier':<36} {'clean acc':>9} {'train s':>8}")
    for recipe in ("natural", "madry", "trades", "avmixup"):
        start = time.perf_counter()
        loaded = obtain_classifier(ClassifierId("mnist5k", "smallcnn", recipe, 0), data=data, device=device)
        seconds = loaded.metadata.get("train_seconds", time.perf_counter() - start)
        print(f"{'mnist5k/smallcnn/' + recipe:<36} {loaded.metadata['clean_accuracy']:>9.4f} {seconds:>8.1f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="run_bench.py", description="purebench: benchmark adversarial defenses.")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.set_defaults(func=cmd_main)
    sub = parser.add_subparsers(dest="command", parser_class=OneLineParser)

    p = sub.add_parser("list", help="list registered names of a kind")
    p.add_argument("kind", choices=sorted(_registries()))
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
