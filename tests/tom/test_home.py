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


def test_a_facility_form_the_portal_cannot_build_says_why_not_just_bad_request(client, django_user_model, monkeypatch):
    """tomtoolkit's LCO form asks the LCO portal for its instruments; offline it raises BadRequest
    with the reason, which the TOM's 400 page shows (Django's default: a bare 'Bad Request (400)')."""
    import requests
    from tom_observations.facilities import ocs
    from tom_targets.models import Target

    def portal_unreachable(*args, **kwargs):
        raise requests.ConnectionError("HTTPSConnectionPool(host='observe.lco.global', port=443): Failed to resolve")

    monkeypatch.setattr(ocs.requests, "request", portal_unreachable)
    target = Target.objects.create(name="ZTF26aaaaaaa", type=Target.SIDEREAL, ra=10.0, dec=-20.0)
    client.force_login(django_user_model.objects.create_superuser("observer", "o@example.org", "pw"))
    response = client.get(f"/observations/LCO/create/?target_id={target.id}", HTTP_REFERER=f"/targets/{target.id}/")
    page = response.content.decode()
    assert response.status_code == 400
    assert ("LCO could not be reached from this TOM (HTTPSConnectionPool(host=&#x27;observe.lco.global&#x27;, "
            "port=443): Failed to resolve). Is this machine offline?") in page
    assert 'href="/facilities/tonight/"' in page and f'href="/targets/{target.id}/"' in page
