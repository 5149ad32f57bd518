"""``alerce-classifier train``: rebuild every shipped model from scratch, with its model card.

Each model is written to ``<out>/<classifier name>/<version>/`` (default ``./models``),
never into an installed package; ``make train`` rebuilds the shipped models in the source
tree with ``--out classifier_service/models``. ``--labels`` and ``--detections`` add a
user's own labelled set in ALeRCE's CSV format to the light-curve classifier's data.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import site
import sysconfig
from collections.abc import Callable
from pathlib import Path

from classifier_service.commands.arguments import train_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.progress import progress
from classifier_service.settings import CommandError

# What each trainer imports beyond the broker: the [train] extra.
NEEDS = {"stamp": ("torch", "onnx", "matplotlib"), "lc": ("matplotlib",), "lsst-lc": ("matplotlib",),
         "lsst-stamp": ("matplotlib",)}
INSTALL_HINT = "pip install '.[train]' (with the CPU build of torch: the Makefile installs torch==2.13.0 first)"
log = logging.getLogger(__name__)


def _train_lc(args: argparse.Namespace) -> Path:
    from classifier_service.train.lightcurve import train_lc_classifier

    return train_lc_classifier(
        args.out / "lc_classifier", quick=args.quick, seed=args.seed, labels_csv=args.labels,
        detections_csv=args.detections, non_detections_csv=args.non_detections,
    )


def _train_stamp(args: argparse.Namespace) -> Path:
    from classifier_service.train.stamp import train_stamp_classifier

    return train_stamp_classifier(args.out / "stamp_classifier", quick=args.quick, seed=args.seed)


def _train_rubin_lc(args: argparse.Namespace) -> Path:
    from classifier_service.classifiers.rubin_lc_classifier import NAME
    from classifier_service.train.rubin_lightcurve import train_rubin_lc_classifier

    return train_rubin_lc_classifier(args.out / NAME, quick=args.quick, seed=args.seed)


def _train_rubin_stamp(args: argparse.Namespace) -> Path:
    from classifier_service.classifiers.rubin_stamp_classifier import NAME
    from classifier_service.train.rubin_stamp import train_rubin_stamp_classifier

    return train_rubin_stamp_classifier(args.out / NAME, quick=args.quick, seed=args.seed)


TRAINERS: dict[str, Callable[[argparse.Namespace], Path]] = {
    "stamp": _train_stamp, "lc": _train_lc, "lsst-lc": _train_rubin_lc, "lsst-stamp": _train_rubin_stamp}


def run(args: argparse.Namespace) -> int:
    if (args.labels is None) != (args.detections is None):
        raise CommandError("--labels and --detections go together")
    names = [args.only] if args.only else list(TRAINERS)
    missing = sorted({module for name in names for module in NEEDS[name] if importlib.util.find_spec(module) is None})
    if missing:
        raise CommandError(f"training needs {', '.join(missing)}, which is not installed: {INSTALL_HINT}")
    if _installed_package_folder(args.out):
        raise CommandError(f"{args.out} is inside an installed package (site-packages); name another --out folder")
    for name in progress(names, "train", "classifiers", total=len(names)):
        path = TRAINERS[name](args)
        print(f"{name}: {path}")
    return 0


def _installed_package_folder(out: Path) -> bool:
    target = out.resolve()
    roots = {Path(p).resolve() for p in [*site.getsitepackages(), sysconfig.get_path("purelib")]}
    return any(target.is_relative_to(root) for root in roots)
