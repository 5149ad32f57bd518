"""Plots and pages that work offline: tomtoolkit's plotting tags write bare divs, the base page
loads plotly.js once from this TOM, and no template this TOM renders points at a CDN."""
from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
from django.template.loader import get_template
from django.test import RequestFactory

from tom_alerce.offline import PLOTTING_TAG_MODULES, TEMPLATES_DIR, check_offline_templates, offline_base_in_use

# A script, stylesheet, image or frame from another host (links a person may follow are fine).
CDN = re.compile(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=\"(https?:)?//", re.I)


def test_tomtoolkits_plotting_tags_no_longer_inline_plotly_js():
    from importlib import import_module

    for name in PLOTTING_TAG_MODULES:
        div = import_module(name).offline.plot(go.Figure(go.Scatter(x=[1], y=[2])), output_type="div")
        assert len(div) < 20_000 and "Plotly.newPlot" in div, name  # the bundle alone is 3.5 MB


def test_the_base_page_is_ours_and_loads_plotly_once_from_this_tom(rf: RequestFactory):
    assert offline_base_in_use() and check_offline_templates(None) == []
    html = get_template("tom_common/base.html").render({"request": rf.get("/")})
    assert len(re.findall(r"<script[^>]*plotly", html)) == 1
    assert CDN.findall(html) == []


def test_no_override_template_loads_anything_from_another_host():
    for path in TEMPLATES_DIR.rglob("*.html"):
        assert CDN.findall(path.read_text()) == [], path.relative_to(TEMPLATES_DIR.parent)
