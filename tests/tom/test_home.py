"""The example TOM's home page is the demo's tour: what it is, and links worth following."""
from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tom.seeding import seed_target

pytestmark = pytest.mark.django_db


def test_the_home_page_says_what_the_demo_is_and_links_the_tour(client, user, alert):
    target = seed_target(alert)  # an SN by its stamps, first detected 27 days ago: not a fresh one
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "ALeRCE" in html and "Nothing here reaches the internet" in html
    for link in (reverse("tom_alerce:sn-hunter") + "?hours=36", reverse("facilities:tonight"), "/docs",
                 reverse("dataservices:create") + "?data_service=ALeRCEBroker"):
        assert f'href="{link}' in html or link in html
    assert html.count("tour-example") == 4  # a fresh SN, a periodic star, an AGN, a Rubin object
    assert reverse("targets:detail", kwargs={"pk": target.pk}) not in html


def test_anonymous_visitors_are_asked_to_log_in(client):
    html = client.get("/").content.decode()
    assert "log in to see the targets" in html
