"""``alerce-classifier evaluate``: the shipped classifiers on real skies, and how real the simulator looks.

Prints, from the real data in ``shared/data`` read in place: the shipped stamp and
light-curve classifiers on every real labelled object (balanced accuracy and per-class
recall with 95% bootstrap intervals resampled by object, per-class confusion, and which
objects the shipped model trained on; for the light-curve classifier, which trains on all
of them, the out-of-fold figures of its card), then the adversarial validation that tells
simulated alerts from real ones, then how often the features' period search finds the period of
simulated and real periodic stars. Nothing is trained or written.
"""
from __future__ import annotations

import argparse
import warnings

from classifier_service.commands.arguments import EVALUATED


def run(args: argparse.Namespace) -> int:
    from classifier_service.train.adversarial import adversarial_report, adversarial_table
    from classifier_service.train.evaluate_real import lc_report, stamp_report
    from classifier_service.train.period_recovery import period_report

    warnings.filterwarnings("ignore", module="astropy")  # ZTF's FITS lack a standard SIMPLE card
    parts = [args.only] if args.only else list(EVALUATED)
    if set(parts) - {"periods"}:
        print("Intervals: 95% bootstrap, objects resampled with replacement.\n")
    if "stamp" in parts:
        print(stamp_report(args.data_dir, n_resamples=args.resamples), end="\n\n")
    if "lc" in parts:
        print(lc_report(args.data_dir, bts_limit=args.bts_limit, n_resamples=args.resamples), end="\n\n")
    if "adversarial" in parts:
        print("== adversarial validation: simulated vs real ZTF alerts ==")
        table = adversarial_table(args.data_dir, seed=args.seed)
        print(adversarial_report(table, steps=args.steps, seed=args.seed, n_resamples=args.resamples), end="\n\n")
    if "periods" in parts:
        print("== periods: the light-curve features' period search ==")
        print(period_report(args.data_dir, seeds=args.period_seeds))
    return 0
