"""The project's files as a clean clone has them, for building wheels without touching the checkout."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def project_files() -> list[str]:
    """Tracked files plus untracked ones git does not ignore (what the next commit would hold)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (REPO / name).is_file())


def copy_source(dest: Path) -> Path:
    """Copy the project's files into ``dest``: setuptools then builds there (its build/ included)."""
    for name in project_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return dest
