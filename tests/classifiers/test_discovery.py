"""Model discovery and the inference/training boundary: the worker's classifiers stand alone."""
from __future__ import annotations

import subprocess
import sys

import pytest

from classifier_service.classifiers import artifacts


def test_importing_the_classifiers_imports_nothing_from_training():
    code = (
        "import pkgutil, sys, classifier_service.classifiers as c\n"
        "for m in pkgutil.iter_modules(c.__path__): __import__(f'classifier_service.classifiers.{m.name}')\n"
        "print(sorted(n for n in sys.modules if n.startswith('classifier_service.train')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("folders", "newest"), [
    (["1.0.rc1", "1.0", "0.9"], "1.0"),
    (["1.9.0", "1.10.0"], "1.10.0"),
    (["1.0.rc1"], "1.0.rc1"),
    (["1.1.0", "1.1.0-quick", "1.0.0"], "1.1.0-quick"),
])
def test_the_newest_model_version_is_chosen_by_version_order(tmp_path, folders, newest):
    for name in folders:
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.bin").write_bytes(b"")
    (tmp_path / "9.9").mkdir()  # a version folder without the artifact does not count
    assert artifacts.newest_version_dir(tmp_path, "model.bin").name == newest
    assert artifacts.version_dir(tmp_path / folders[0], "model.bin").name == folders[0]  # one version named


def test_no_artifact_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        artifacts.newest_version_dir(tmp_path / "absent", "model.bin")
