"""The TOM apps need only the light contract: importing all of them loads no ML runtime, no
database layer of the broker, no web framework of the broker and nothing of classifier_service,
so ``pip install .`` into a TOM can leave all of those out."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

HEAVY = ("onnxruntime", "sklearn", "light_curve", "sqlalchemy", "fastapi", "torch", "pyarrow")
TOM_APPS = ("tom_alerce", "alerce_broker_plugin", "facilities")

IMPORT_EVERY_TOM_MODULE = f"""
import importlib, json, pkgutil, sys
import django
django.setup()
imported = []
for app in {TOM_APPS!r}:
    package = importlib.import_module(app)
    imported.append(app)
    for info in pkgutil.walk_packages(package.__path__, app + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
loaded = sorted({{name.split(".")[0] for name in sys.modules}})
print(json.dumps({{"imported": imported, "loaded": loaded}}))
"""


def _run(code: str, **env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings", **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_every_tom_module_imports_without_the_broker_or_any_heavy_package():
    result = _run(IMPORT_EVERY_TOM_MODULE)
    assert len(result["imported"]) > 30  # every module of the three apps, views and commands included
    forbidden = set(HEAVY) | {"classifier_service"}
    assert forbidden & set(result["loaded"]) == set()
    assert "alerce_contract" in result["loaded"]


def test_the_contract_alone_loads_neither_django_nor_anything_heavy():
    code = ("import importlib, json, pkgutil, sys, alerce_contract\n"
            "for info in pkgutil.walk_packages(alerce_contract.__path__, 'alerce_contract.'):\n"
            "    importlib.import_module(info.name)\n"
            "print(json.dumps({'loaded': sorted({n.split('.')[0] for n in sys.modules})}))")
    loaded = set(_run(code)["loaded"])
    assert loaded & {*HEAVY, "classifier_service", "django", "astropy"} == set()
    assert {"fastavro", "requests", "numpy"} <= loaded
