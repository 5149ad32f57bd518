"""The suite drops into a TOM made by ``tom_setup``, following docs/install_into_a_tom.md.

A new TOM is created in a temporary folder the way tomtoolkit's docs say (``django-admin
startproject``, ``tom_setup`` answering its questions on stdin), the project's apps are added
to ``INSTALLED_APPS`` and the documented settings appended (two edits: the broker's one
``DATA_SERVICES`` block and the stream listener), then ``migrate``. Against a real
``alerce-classifier serve`` over a store replayed from real ZTF alerts, the TOM renders the
data-service form, creates targets from a query, and renders the target list, a target page
with its ALeRCE tab, and the SN Hunter.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from classifier_service.stream.tansu import free_port
from tests.realstack import copy_store, serve

BIN = Path(sys.executable).parent
# Step 2's INSTALLED_APPS head, as the doc writes it: tom_alerce before tomtoolkit's apps (its
# offline templates and command win), tom_dataservices replaced (no tomtoolkit ALeRCE service).
INSTALLED_APPS_HEAD = """INSTALLED_APPS = ['tom_alerce'] + [
    'alerce_broker_plugin.apps.TomDataservices' if app == 'tom_dataservices' else app
    for app in TOMTOOLKIT_INSTALLED_APPS
] + ["""
APPS = ["tom_alertstreams", "alerce_broker_plugin", "facilities"]
# tom_setup's answers: continue, custom code app name (default), sidereal targets, no hints.
TOM_SETUP_ANSWERS = "y\n\n1\n\n"

# The documented settings (docs/install_into_a_tom.md), appended as they are written there.
SETTINGS = """
DATA_SERVICES = {{
    'ALeRCEBroker': {{'api_url': '{api_url}'}},
}}

ALERT_STREAMS = [{{
    'ACTIVE': True,
    'NAME': 'alerce_broker_plugin.stream.ClassifiedAlertStream',
    'OPTIONS': {{'BOOTSTRAP_SERVERS': '127.0.0.1:9092', 'TOPIC': 'alerce-classified', 'GROUP_ID': 'mytom'}},
}}]
"""

# Runs inside the new TOM: a logged-in PI walks the pages; prints what each page answered.
WALK = r"""
import json, os
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mytom.settings")
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from tom_targets.models import Target

client = Client()
client.force_login(User.objects.create_superuser("pi", password="pi-password"))
pages = {}

def visit(name, url, method="get", **data):
    response = getattr(client, method)(url, data)
    pages[name] = {"status": response.status_code, "html": response.content.decode()}
    return response

visit("data-service form", reverse("dataservices:create") + "?data_service=ALeRCEBroker")
session = client.session
session["query_parameters"] = {"data_service": "ALeRCEBroker", "max_results": 5}
session.save()
visit("query results", reverse("dataservices:run"))
visit("create targets", reverse("dataservices:create-target"), "post",
      query_id="", data_service="ALeRCEBroker", selected_results=["0", "1"])
target = Target.objects.order_by("pk").first()
visit("target list", reverse("targets:list"))
visit("target page", reverse("targets:detail", kwargs={"pk": target.pk}))
response = visit("check for new data", reverse("dataproducts:update-reduced-data"), "post", target_id=target.pk)
pages["check for new data"]["messages"] = [str(m) for m in get_messages(response.wsgi_request)]
visit("SN Hunter", reverse("tom_alerce:sn-hunter"))
visit("SN Hunter list", reverse("tom_alerce:sn-hunter-candidates") + "?hours=720")
print(json.dumps({"targets": list(Target.objects.values_list("name", flat=True)), "pages": pages}))
"""


def run(argv: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run in the new TOM's folder, under its own settings (not the suite's example_tom)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{argv}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


def new_tom(folder: Path, api_url: str) -> Path:
    """``startproject`` + ``tom_setup``, then the apps and the documented settings, then migrate."""
    run([str(BIN / "django-admin"), "startproject", "mytom"], folder)
    tom = folder / "mytom"
    settings = tom / "mytom" / "settings.py"
    text = settings.read_text()
    settings.write_text(text.replace("'django.contrib.staticfiles',", "'django.contrib.staticfiles',\n    'tom_setup',"))
    run([sys.executable, "manage.py", "tom_setup"], tom, input=TOM_SETUP_ANSWERS)
    text = settings.read_text()
    apps = "".join(f"    '{app}',\n" for app in APPS)
    assert "INSTALLED_APPS = TOMTOOLKIT_INSTALLED_APPS + [" in text and "    'custom_code',\n]" in text, \
        "tom_setup's INSTALLED_APPS changed shape"
    text = text.replace("INSTALLED_APPS = TOMTOOLKIT_INSTALLED_APPS + [", INSTALLED_APPS_HEAD)
    text = text.replace("    'custom_code',\n]", f"    'custom_code',\n{apps}]")
    settings.write_text(text + SETTINGS.format(api_url=api_url))
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], tom)
    (tom / "check.txt").write_text(run([sys.executable, "manage.py", "check"], tom).stdout)
    (tom / "makemigrations.txt").write_text(
        run([sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], tom).stdout)
    return tom


@pytest.fixture(scope="module")
def walk(real_alerts_store, tmp_path_factory) -> dict:
    """The new TOM is made (tom_setup and migrate: the slow part) while its broker comes up:
    ``alerce-classifier serve`` (a real process) over a store the real worker replayed real alerts into."""
    broker, port = tmp_path_factory.mktemp("broker"), free_port()
    with ThreadPoolExecutor(1) as pool:
        making = pool.submit(new_tom, tmp_path_factory.mktemp("fresh_tom"), f"http://127.0.0.1:{port}")
        with serve(copy_store(real_alerts_store, broker), broker / "serve.log", port):
            tom = making.result()
            walked = json.loads(run([sys.executable, "-c", WALK], tom).stdout.strip().splitlines()[-1])
    return {**walked, "check": (tom / "check.txt").read_text(),
            "makemigrations": (tom / "makemigrations.txt").read_text()}


def test_the_documented_steps_give_a_tom_whose_check_is_clean(walk):
    assert walk["check"].strip() == "System check identified no issues (0 silenced)."


def test_makemigrations_in_the_tom_writes_nothing_into_tomtoolkit(walk):
    """The plugins' sky validators on tomtoolkit's Target change no column: a TOM's own
    makemigrations must not find a change to write into the installed tom_targets."""
    assert walk["makemigrations"].strip() == "No changes detected"


def test_the_catalog_search_offers_the_broker_not_tomtoolkits_own_alerce(walk):
    html = walk["pages"]["target list"]["html"]  # its Catalog Search menu lists every data service
    assert 'data_service=ALeRCEBroker"' in html and 'data_service=Simbad"' in html
    assert 'data_service=ALeRCE"' not in html


def test_the_data_service_form_renders(walk):
    page = walk["pages"]["data-service form"]
    assert page["status"] == 200
    assert "ALeRCE" in page["html"] and 'name="classifier"' in page["html"]


def test_a_query_against_serve_creates_targets(walk):
    assert walk["pages"]["query results"]["status"] == 200
    assert walk["pages"]["create targets"]["status"] == 302
    assert len(walk["targets"]) == 2 and all(name.startswith("ZTF") for name in walk["targets"])


def test_the_target_list_shows_the_targets_and_their_classes(walk):
    page = walk["pages"]["target list"]
    assert page["status"] == 200
    assert all(name in page["html"] for name in walk["targets"])
    assert "Stamp class" in page["html"]


def test_the_target_page_has_the_alerce_tab(walk):
    page = walk["pages"]["target page"]
    assert page["status"] == 200
    assert "ALeRCE" in page["html"] and "stamp_classifier" in page["html"]


def test_tom_alerces_offline_base_page_is_in_use(walk):
    """tom_alerce listed first, as documented: its templates replace tomtoolkit's CDN-loading ones
    (Bootstrap stays tomtoolkit's setting: django-bootstrap-static, docs/install_into_a_tom.md)."""
    for name in ("target list", "target page", "SN Hunter"):
        html = walk["pages"][name]["html"]
        assert "/static/tom_alerce/vendor/alpinejs/" in html and "cdn.jsdelivr.net/npm/alpinejs" not in html, name


def test_check_for_new_data_asks_the_broker_again(walk):
    page = walk["pages"]["check for new data"]
    assert page["status"] == 302
    assert page["messages"] == ["Update completed successfully: asked ALeRCEBroker for 1 target"]


def test_the_sn_hunter_renders_and_reaches_the_broker(walk):
    assert walk["pages"]["SN Hunter"]["status"] == 200
    listing = walk["pages"]["SN Hunter list"]
    assert listing["status"] == 200
    assert "could not be queried" not in listing["html"]
