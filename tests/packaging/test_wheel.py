"""The wheel holds every file of every package, so an install runs as the checkout does.

The expected list comes from the source tree (every file under each top-level package,
as a clean clone has it), not from a hand-kept list: a new model, schema or template is
checked the day it is added.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.packaging.source_tree import copy_source, project_files

# Files the code opens at run time, named so that a failure says which one went missing.
OPENED_AT_RUN_TIME = (
    "classifier_service/simulate/observing_model.json",
    "classifier_service/models/stamp_classifier/*/model.onnx",
    "classifier_service/models/stamp_classifier/*/normalization.json",
    "classifier_service/models/lc_classifier/*/model.joblib",
    "**/*.avsc",
    "tom_alerce/templates/tom_alerce/**/*.html",
    "tom_alerce/static/tom_alerce/*",
    "facilities/templates/facilities/**/*.html",
    "alerce_broker_plugin/templates/**/*.html",
    "tom_alerce/migrations/0001_*.py",
    "facilities/migrations/0001_*.py",
)


def package_files() -> set[str]:
    """Every file under a top-level package of the source tree (tests excepted)."""
    files = project_files()
    packages = {name.split("/")[0] for name in files if name.count("/") == 1 and name.endswith("/__init__.py")}
    packages.discard("tests")
    return {name for name in files if name.split("/")[0] in packages}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> set[str]:
    """The names in a wheel built, offline, from a copy of the source tree."""
    root = tmp_path_factory.mktemp("wheel")
    source = copy_source(root / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = (root / "dist").glob("*.whl")
    with zipfile.ZipFile(built) as archive:
        return set(archive.namelist())


def test_every_file_of_every_package_is_in_the_wheel(wheel):
    missing = sorted(package_files() - wheel)
    assert not missing, f"{len(missing)} files are not in the wheel: {missing[:20]}"


def test_the_wheel_holds_nothing_the_source_tree_lacks(wheel):
    shipped = {name for name in wheel if ".dist-info/" not in name}
    assert shipped - package_files() == set()


@pytest.mark.parametrize("pattern", OPENED_AT_RUN_TIME)
def test_each_file_the_code_opens_ships(wheel, pattern):
    in_source = {name for name in package_files() if Path(name).match(pattern) or _glob(name, pattern)}
    assert in_source, f"{pattern} matches nothing in the source tree"
    assert in_source <= wheel


def _glob(name: str, pattern: str) -> bool:
    from fnmatch import fnmatch

    return fnmatch(name, pattern.replace("**/", "*"))
