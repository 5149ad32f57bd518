"""Nobody where they don't belong: every URL of tom_alerce and facilities, and /api/targets/,
for an anonymous visitor, an ordinary user, another user and a staff member.

The URLs come from the resolver, so a page added later is covered without touching this
test (a new URL parameter must be added to ``SAMPLE_ARGUMENTS``). Alice owns two private
targets; nobody else may see their names or coordinates, and nobody else's request —
GET or POST, however crafted — may write anything about them.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.text import slugify
from tom_dataproducts.models import DataProduct
from tom_targets.models import Target

from facilities.models import FollowupRule, FollowupTrigger, TNSReport
from tests.facilities.candidates import make_candidate
from tests.facilities.conftest import tns  # noqa: F401  (the loopback TNS fixture)
from tests.tom.seeding import seed_target
from tom_alerce.models import TargetClassification

pytestmark = pytest.mark.django_db

PRIVATE_NAME, PRIVATE_RA, PRIVATE_DEC = "ZTF26privat1", 123.456789, -45.678901
PRIVATE_TEXT = [PRIVATE_NAME, "123.4567", "123.4568", "-45.6789", "8:13:49", "08:13:49", "-45:40:44"]
NAMESPACES = {"tom_alerce", "facilities"}
# Mounted outside the namespaces: tom_alerce's /targets/ list and "Check for new data", and
# example_tom's data product files.
EXTRA_ROUTES = {"alerce-target-list", "alerce-update-reduced-data", "data-product-file"}
SAMPLE_ARGUMENTS = {"pk": "{pk}", "oid": "{name}", "kind": "science", "path": "{slug}/none/{name}_science.png"}
STAMP_PNG = b"\x89PNG\r\n\x1a\n a science cutout"


def routes() -> list[tuple[str, str]]:
    """(name, path template) of every URL of the apps, walked from the resolver."""
    found = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and (namespace in NAMESPACES or pattern.name in EXTRA_ROUTES):
                found.append((f"{namespace or ''}:{pattern.name}", "/" + route))

    walk(get_resolver().url_patterns, "", None)
    return found


def concrete(template: str, target: Target) -> str:
    def argument(match: re.Match) -> str:
        name = match.group("name")
        assert name in SAMPLE_ARGUMENTS, f"add a sample value for URL parameter {name!r} to SAMPLE_ARGUMENTS"
        return SAMPLE_ARGUMENTS[name].format(pk=target.pk, name=target.name, slug=slugify(target.name))

    return re.sub(r"<(?:\w+:)?(?P<name>\w+)>", argument, template)


@pytest.fixture
def world(alert, alerce_api, tns, settings, tmp_path):
    """Alice's private targets (one only in this TOM, one the broker also serves), a rule that
    wants them, a report and a firing of Alice's; Bob, a staff member and an anonymous visitor."""
    alice = User.objects.create_user("alice", password="pw")
    bob = User.objects.create_user("bob", password="pw")
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    private = make_candidate(PRIVATE_NAME, ra=PRIVATE_RA, dec=PRIVATE_DEC)
    brokered = seed_target(alert)  # the API's SN candidate, already a private target of Alice's
    for target in (private, brokered):
        assert target.permissions == Target.Permissions.PRIVATE
        target.give_user_access(alice)
    rule = FollowupRule.objects.create(name="all SNe", facility="LCO", observation_type="IMAGING", dry_run=True,
                                       min_probability=0.1, max_airmass=3.0, window_hours=24)
    FollowupTrigger.objects.create(rule=rule, target=private, status=FollowupTrigger.Status.DRY_RUN,
                                   detail=f"for {PRIVATE_NAME}")
    TNSReport.objects.create(target=private, internal_name=PRIVATE_NAME, mode="manual", payload={},
                             status=TNSReport.Status.DRY_RUN)
    settings.MEDIA_ROOT = str(tmp_path)
    product = DataProduct(target=private, product_id=f"{PRIVATE_NAME}_science")
    product.data.save(f"{PRIVATE_NAME}_science.png", ContentFile(STAMP_PNG))  # <slug of the name>/none/<file>
    return {"alice": alice, "bob": bob, "staff": staff, "private": private, "brokered": brokered, "rule": rule}


def browser(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def snapshot(world) -> dict:
    """Everything a request could write about Alice's targets."""
    targets = Target.objects.filter(pk__in=[world["private"].pk, world["brokered"].pk])
    return {
        "targets": sorted(targets.values_list("pk", "name", "ra", "dec", "modified")),
        "reports": TNSReport.objects.count(),
        "triggers": FollowupTrigger.objects.count(),
        "classifications": TargetClassification.objects.filter(target__in=targets).count(),
        "all_targets": Target.objects.count(),
    }


@pytest.mark.parametrize("who", ["anonymous", "bob", "staff"])
def test_nobody_else_sees_or_changes_alices_private_targets_on_any_page(world, who, tns):
    user = None if who == "anonymous" else world[who]
    client = browser(user)
    private, brokered = world["private"], world["brokered"]
    before = snapshot(world)
    pages = routes()
    assert {"tom_alerce:sn-hunter", "tom_alerce:create-target", "facilities:tns-report", "facilities:tonight",
            "facilities:followup-request", "facilities:tns-reports"} <= {name for name, _ in pages}

    for name, template in pages:
        for target in (private, brokered):
            url = concrete(template, target)
            response = client.get(url)
            assert response.status_code < 500, (who, url, response.status_code)
            content = b"".join(response.streaming_content) if response.streaming else response.content
            body = content.decode(errors="replace").replace(url, "")
            if target is private:
                if "<str:oid>" in template:  # the requester typed the name into the URL; only it may echo
                    body = body.replace(PRIVATE_NAME, "")
                leaks = [text for text in PRIVATE_TEXT if text in body]
                assert not leaks, f"{who} sees {leaks} on GET {url}"
            for data in ({"rule": world["rule"].pk}, {"oid": target.name, "ra": target.ra, "dec": target.dec},
                         {"dry_run": "on"}, {}):
                response = client.post(url, data)
                assert response.status_code < 500, (who, "POST", url, response.status_code)
                assert f"/targets/{target.pk}/" not in response.get("Location", ""), (who, url, data)
    assert client.get(f"/data/{slugify(PRIVATE_NAME)}/none/{PRIVATE_NAME}_science.png").status_code == 404
    assert tns.state.uploads == []
    assert snapshot(world) == before, f"{who} changed something of Alice's"


def test_alice_sees_and_acts_on_her_own_targets(world, tns):
    client = browser(world["alice"])
    tonight = client.get("/facilities/tonight/").content.decode()
    assert PRIVATE_NAME in tonight
    assert PRIVATE_NAME in client.get("/facilities/tns/reports/").content.decode()
    stamp = client.get(f"/data/{slugify(PRIVATE_NAME)}/none/{PRIVATE_NAME}_science.png")
    assert (stamp.status_code, stamp["Content-Type"], b"".join(stamp.streaming_content)) == (200, "image/png", STAMP_PNG)
    response = client.post(f"/facilities/tns/report/{world['private'].pk}/", {"dry_run": "on"})
    assert response.status_code == 302 and TNSReport.objects.filter(target=world["private"]).count() == 2


def test_an_ordinary_users_import_of_someone_elses_private_target_is_refused_without_revealing_it(
        world, monkeypatch):
    from alerce_broker_plugin.dataservice import AlerceBrokerDataService

    client = browser(world["bob"])
    brokered = world["brokered"]
    before = snapshot(world)
    broker_object = SimpleNamespace(oid=brokered.name, ra=brokered.ra, dec=brokered.dec)
    monkeypatch.setattr(AlerceBrokerDataService, "fetch_object", lambda self, oid: broker_object)
    monkeypatch.setattr(AlerceBrokerDataService, "import_object", lambda self, obj: pytest.fail("imported"))

    response = client.post("/alerce/sn-hunter/create-target/", {"oid": brokered.name})

    assert snapshot(world) == before
    assert response.status_code == 302 and response["Location"] == "/alerce/sn-hunter/"
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == (f"{brokered.name}: not imported: a target with this name or position exists "
                       f"and you do not have access to it")  # nothing more: no pk, no link


def test_data_services_create_targets_of_someone_elses_private_target_is_refused_and_grants_nothing(
        world, monkeypatch):
    """tomtoolkit's Create Targets updates the matched target and gives the user (and the
    user's groups) every permission on it: the ALeRCEBroker service refuses instead."""
    from django.core.cache import cache

    from alerce_broker_plugin.dataservice import AlerceBrokerDataService

    bob, brokered = world["bob"], world["brokered"]
    before = snapshot(world)
    broker_object = SimpleNamespace(oid=brokered.name, ra=brokered.ra, dec=brokered.dec)
    monkeypatch.setattr(AlerceBrokerDataService, "fetch_object", lambda self, oid, result=None: broker_object)
    monkeypatch.setattr(AlerceBrokerDataService, "import_object", lambda self, obj: pytest.fail("imported"))
    cache.set("result_0", {"oid": brokered.name, "ra": brokered.ra, "dec": brokered.dec})  # as RunQueryView leaves it

    response = browser(bob).post("/tom_dataservices/query/create_targets/",
                                 {"query_id": "", "data_service": "ALeRCEBroker", "selected_results": ["0"]})

    assert snapshot(world) == before
    assert not bob.has_perm("tom_targets.view_target", brokered)
    assert response.status_code == 302 and response["Location"] == "/targets/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"{brokered.name}: not imported: a target with this name or position exists and you do not have access to it"]


def test_data_services_update_data_of_a_target_the_user_may_not_change_writes_nothing(world, monkeypatch):
    from alerce_broker_plugin.dataservice import AlerceBrokerDataService

    monkeypatch.setattr(AlerceBrokerDataService, "fetch_object", lambda *args: pytest.fail("asked the broker"))
    before = snapshot(world)

    response = browser(world["bob"]).post("/tom_dataservices/query/update_data/",
                                          {"target": world["private"].pk, "data_service": "ALeRCEBroker"})

    assert snapshot(world) == before
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Error retrieving data from Data Service: not updated: you do not have access to this target"]


def test_a_rule_that_is_not_an_id_is_a_bad_request_not_a_server_error(world):
    alice = browser(world["alice"])
    for rule in ("abc", "", "1.5", "-1"):
        response = alice.post(f"/facilities/followup/{world['private'].pk}/", {"rule": rule})
        assert response.status_code == 400, rule


def test_the_targets_api_refuses_anonymous_writes_and_scopes_every_method_to_object_permissions(world):
    private = world["private"]
    before = snapshot(world)
    anonymous = Client()
    assert anonymous.post("/api/targets/", {"name": "intruder", "type": "SIDEREAL", "ra": 1, "dec": 1},
                          content_type="application/json").status_code in (401, 403)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(anonymous, method)(f"/api/targets/{private.pk}/", {"ra": 1.0},
                                              content_type="application/json")
        assert response.status_code in (401, 403), (method, response.status_code)
    for who in ("bob", "staff"):
        client = browser(world[who])
        listing = client.get("/api/targets/").content.decode()
        assert PRIVATE_NAME not in listing and "123.4567" not in listing
        for method in ("get", "patch", "put", "delete"):
            response = getattr(client, method)(f"/api/targets/{private.pk}/", {"ra": 1.0},
                                               content_type="application/json")
            assert response.status_code == 404, (who, method, response.status_code)
    assert snapshot(world) == before
    owner = browser(world["alice"])
    assert PRIVATE_NAME in owner.get("/api/targets/").content.decode()
    assert owner.patch(f"/api/targets/{private.pk}/", {"ra": 124.0}, content_type="application/json").status_code == 200


@pytest.fixture
def observer() -> User:
    return User.objects.create_user("observer", password="pw")


@pytest.mark.parametrize("ra, dec", [("nan", "inf"), ("inf", "0"), ("400", "0"), ("360", "0"), ("10", "-91")])
def test_impossible_coordinates_are_refused_with_an_error_not_a_500(observer, ra, dec):
    client = browser(observer)
    response = client.post("/api/targets/", f'{{"name": "bad", "type": "SIDEREAL", "ra": {ra}, "dec": {dec}}}'
                           .replace("nan", "NaN").replace("inf", "Infinity"), content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Target.objects.filter(name="bad").exists()


def test_the_sky_edges_are_positions_and_a_refusal_names_the_rule(observer):
    client = browser(observer)
    # not ra=0.0: tomtoolkit's serializer takes a 0 for a missing ra ('required for SIDEREAL targets')
    for i, (ra, dec) in enumerate([(1e-9, -90.0), (359.999, 90.0)]):
        response = client.post("/api/targets/", {"name": f"edge{i}", "type": "SIDEREAL", "ra": ra, "dec": dec},
                               content_type="application/json")
        assert response.status_code == 201, response.content
    response = client.post("/api/targets/", {"name": "bad", "type": "SIDEREAL", "ra": 360.0, "dec": 0.0},
                           content_type="application/json")
    assert response.json()["ra"] == ["ra = 360.0 is not within 0 <= ra < 360 deg"]


def test_the_sn_hunter_does_not_create_a_target_at_an_impossible_position(observer, monkeypatch):
    from alerce_broker_plugin.dataservice import AlerceBrokerDataService

    broker_object = SimpleNamespace(oid="ZTF26nowhere", ra=float("nan"), dec=float("inf"))
    monkeypatch.setattr(AlerceBrokerDataService, "fetch_object", lambda self, oid: broker_object)
    monkeypatch.setattr(AlerceBrokerDataService, "import_object", lambda self, obj: pytest.fail("imported"))

    response = browser(observer).post("/alerce/sn-hunter/create-target/", {"oid": "ZTF26nowhere"})

    assert response.status_code == 302 and not Target.objects.filter(name="ZTF26nowhere").exists()
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "no valid position" in message
