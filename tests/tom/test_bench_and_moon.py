"""The page benchmark command, and the faster moon-distance plot the example TOM uses."""
from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from astropy.coordinates import GCRS, SkyCoord, get_body
from astropy.time import Time
from django.core.management import call_command
from tom_targets.models import Target

from tom_alerce.templatetags.fast_targets_extras import moon_separation_deg


@pytest.mark.django_db
def test_bench_pages_reports_every_page_and_removes_its_targets():
    out = StringIO()
    call_command("bench_pages", targets=40, repeats=1, as_json=True, stdout=out)
    report = json.loads(out.getvalue())
    assert set(report["pages"]) == {"target list", "target list (htmx sort)", "SN Hunter page",
                                    "SN Hunter candidates", "target page"}
    assert all(t["median_s"] > 0 for t in report["pages"].values())
    assert not Target.objects.filter(name__startswith="BENCH").exists()


def test_vectorised_moon_distance_matches_one_epoch_at_a_time():
    times = Time("2026-11-21T00:00:00") + np.array([0.0, 7.3, 15.1])
    fast = moon_separation_deg(150.0, 2.2, times)
    slow = [get_body("moon", t).separation(SkyCoord(150.0, 2.2, unit="deg", frame=GCRS(obstime=t))).deg
            for t in times]
    assert fast == pytest.approx(slow, abs=1e-6)
