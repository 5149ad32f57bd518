"""``alerce-classifier train``: rebuild every shipped model from scratch, with its model card.

Each model is written to ``<out>/<classifier name>/<version>/`` (default: the package's
``models/`` folder, where the classifiers load from). ``--labels`` and ``--detections``
add a user's own labelled set in ALeRCE's CSV format to the light-curve classifier's data.
"""
from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from pathlib import Path

HELP = "train the stamp and light-curve classifiers from simulated and real labelled data"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=("stamp", "lc"), default=None,
                        help="train one classifier (default: both)")
    parser.add_argument("--quick", action="store_true",
                        help="small, fast models for tests and smoke runs (not for shipping)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("ALERCE_MODELS_DIR", MODELS_DIR)),
                        help="models folder; each classifier goes to OUT/<name>/<version>/ "
                             "(ALERCE_MODELS_DIR; default: the package's models/)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of simulation and training")
    parser.add_argument("--labels", type=Path, default=None,
                        help="your labels CSV (oid or objectId, classALeRCE) for the light-curve classifier")
    parser.add_argument("--detections", type=Path, default=None,
                        help="your detections CSV in ALeRCE's format (objectId/oid, mjd, fid, magpsf, sigmapsf)")
    parser.add_argument("--non-detections", type=Path, default=None,
                        help="your non-detections CSV (objectId/oid, mjd or jd, fid, diffmaglim)")


def _train_lc(args: argparse.Namespace) -> Path:
    from classifier_service.train.lightcurve import train_lc_classifier

    return train_lc_classifier(
        args.out / "lc_classifier", quick=args.quick, seed=args.seed, labels_csv=args.labels,
        detections_csv=args.detections, non_detections_csv=args.non_detections,
    )


def _train_stamp(args: argparse.Namespace) -> Path:
    from classifier_service.train.stamp import train_stamp_classifier

    return train_stamp_classifier(args.out / "stamp_classifier", quick=args.quick, seed=args.seed)


TRAINERS: dict[str, Callable[[argparse.Namespace], Path]] = {"stamp": _train_stamp, "lc": _train_lc}


def run(args: argparse.Namespace) -> int:
    if (args.labels is None) != (args.detections is None):
        log.error("--labels and --detections go together")
        return 2
    for name in [args.only] if args.only else list(TRAINERS):
        path = TRAINERS[name](args)
        print(f"{name}: {path}")
    return 0
