"""``manage.py bench_pages``: how fast the TOM's pages render with 10,000 classified targets.

Fills the configured database with N targets (bulk_create; name prefix ``BENCH``), each with
stamp and light-curve classifications and a few with photometry, renders the target list, the
SN Hunter (page and candidate list) and a target page through Django's test client, prints the
median and worst time of each, and deletes what it created (unless --keep).

The SN Hunter's API is pointed at a closed loopback port so that only the TOM's own work is
timed (the API's answer time is the API's benchmark).
"""
from __future__ import annotations

import json
import logging
import statistics
import time
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from alerce_contract.mjd import mjd_to_datetime, now_mjd
from alerce_contract.taxonomy import LC_CLASSES, LC_CLASSIFIER, STAMP_CLASSES, STAMP_CLASSIFIER
from tom_alerce.models import TargetClassification

PREFIX = "BENCH"
GOAL_S = 1.0
CLASSES = {
    STAMP_CLASSIFIER: ("1.0.0", list(STAMP_CLASSES)),
    LC_CLASSIFIER: ("2.0.0", list(LC_CLASSES)),
}
BENCH_USER = "bench-pages"


def classification_rows(target_ids: list[int], rng: np.random.Generator) -> list[TargetClassification]:
    """Dirichlet probabilities per target and classifier, ranked; first seen within the last two days."""
    now = timezone.now()
    rows = []
    for target_id in target_ids:
        seen = now - timedelta(hours=float(rng.uniform(0, 48)))
        for name, (version, classes) in CLASSES.items():
            probabilities = rng.dirichlet(np.full(len(classes), 0.3))
            for rank, index in enumerate(np.argsort(-probabilities), start=1):
                rows.append(TargetClassification(
                    target_id=target_id, classifier_name=name, classifier_version=version,
                    class_name=classes[index], probability=float(probabilities[index]), ranking=rank,
                    source="bench_pages", first_seen=seen, last_seen=seen))
    return rows


def photometry_rows(target_ids: list[int], rng: np.random.Generator, n_points: int) -> list[PhotometryReducedDatum]:
    start = now_mjd() - 30
    rows = []
    for target_id in target_ids:
        mjd = np.sort(start + rng.uniform(0, 30, n_points))
        mag = 19 + rng.normal(0, 0.3, n_points)
        for i, (t, m) in enumerate(zip(mjd, mag)):
            band = "gr"[i % 2]
            if i % 5 == 0:
                rows.append(PhotometryReducedDatum(target_id=target_id, timestamp=mjd_to_datetime(t),
                                                   limit=float(m + 1.5), bandpass=band, unit="mag"))
            else:
                rows.append(PhotometryReducedDatum(target_id=target_id, timestamp=mjd_to_datetime(t),
                                                   brightness=float(m), brightness_error=0.05, bandpass=band,
                                                   unit="mag"))
    return rows


def timed(client: Client, url: str, repeats: int, **headers) -> list[float]:
    seconds = []
    for _ in range(repeats + 1):  # the first, warming, request is not counted
        started = time.perf_counter()
        response = client.get(url, **headers)
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return seconds[1:]


class Command(BaseCommand):
    help = "Render times of the target list, SN Hunter and a target page with N classified targets"

    def add_arguments(self, parser):
        parser.add_argument("--targets", type=int, default=10_000)
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--keep", action="store_true", help="keep the benchmark's targets")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print one JSON object")

    def handle(self, *args, targets: int, repeats: int, seed: int, keep: bool, as_json: bool, **options):
        rng = np.random.default_rng(seed)
        self.clean()
        fill_s = self.fill(targets, rng)
        user = get_user_model().objects.create_superuser(BENCH_USER, "bench@example.org", "bench")
        try:
            results = self.measure(user, repeats)
        finally:
            user.delete()
            if not keep:
                self.clean()
        report = {"targets": targets, "fill_s": round(fill_s, 2), "goal_s": GOAL_S,
                  "pages": {name: {"median_s": round(statistics.median(s), 4), "max_s": round(max(s), 4)}
                            for name, s in results.items()}}
        self.stdout.write(self.render(report, as_json))

    @staticmethod
    def render(report: dict, as_json: bool) -> str:
        if as_json:
            return json.dumps(report)
        lines = [f"{report['targets']} targets filled in {report['fill_s']:.1f} s; render times (goal < {GOAL_S} s):"]
        for name, t in report["pages"].items():
            verdict = "ok" if t["max_s"] < GOAL_S else "SLOW"
            lines.append(f"  {name:<24} median {t['median_s']:.3f} s   max {t['max_s']:.3f} s   {verdict}")
        return "\n".join(lines)

    @staticmethod
    def clean() -> None:
        # django-guardian logs a line per deleted target, and the SN Hunter warns at each render
        # that the (deliberately closed) API is down: thousands of lines that say nothing here.
        logging.getLogger("guardian").setLevel(logging.WARNING)
        logging.getLogger("tom_alerce.sn_hunter").setLevel(logging.ERROR)
        Target.objects.filter(name__startswith=PREFIX).delete()
        get_user_model().objects.filter(username=BENCH_USER).delete()

    @staticmethod
    def fill(n: int, rng: np.random.Generator) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            Target.objects.bulk_create(
                [Target(name=f"{PREFIX}{i:06d}", type=Target.SIDEREAL, ra=float(ra), dec=float(dec), epoch=2000.0)
                 for i, (ra, dec) in enumerate(zip(rng.uniform(0, 360, n), rng.uniform(-30, 80, n)))],
                batch_size=2000)
            ids = list(Target.objects.filter(name__startswith=PREFIX).order_by("id").values_list("id", flat=True))
            TargetClassification.objects.bulk_create(classification_rows(ids, rng), batch_size=5000)
            PhotometryReducedDatum.objects.bulk_create(photometry_rows(ids[::100], rng, 60), batch_size=5000)
        return time.perf_counter() - started

    @staticmethod
    def measure(user, repeats: int) -> dict[str, list[float]]:
        client = Client()
        client.force_login(user)
        target = Target.objects.filter(name__startswith=PREFIX).order_by("id").first()
        hunter = reverse("tom_alerce:sn-hunter-candidates") + "?hours=24&min_probability=0.5&limit=30"
        with override_settings(DATA_SERVICES={**settings.DATA_SERVICES, "ALeRCEBroker": {
                                   "api_url": "http://127.0.0.1:9", "timeout": 0.5, "retries": 0}},
                               ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            return {
                "target list": timed(client, reverse("targets:list"), repeats),
                "target list (htmx sort)": timed(client, reverse("targets:list") + "?sort=-stamp_class", repeats,
                                                 HTTP_HX_REQUEST="true"),
                "SN Hunter page": timed(client, reverse("tom_alerce:sn-hunter"), repeats),
                "SN Hunter candidates": timed(client, hunter, repeats),
                "target page": timed(client, reverse("targets:detail", kwargs={"pk": target.pk}), repeats),
            }
