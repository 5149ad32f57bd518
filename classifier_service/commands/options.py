"""Option defaults from ``ALERCE_*`` variables, checked by argparse.

A default read from the environment is converted by the option's own ``type`` when the
command line is parsed, not when the parser is built: so ``--help`` works whatever the
environment holds, and a bad value is an argparse error (exit status 2) that names the
variable it came from. The converters themselves, and CommandError, are
:mod:`classifier_service.settings`'s, which the API shares.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from classifier_service.settings import EnvValue


def env_default(variable: str, default: Any = None, type: Callable[[str], Any] = str) -> dict[str, Any]:
    """``default`` and ``type`` keywords for ``add_argument``: the value of ``variable`` when set.

    ``type`` is one of :mod:`classifier_service.settings`'s converters (or ``str``), so that a
    bad value names its source.
    """
    raw = os.environ.get(variable)
    return {"default": default if raw is None else EnvValue(raw, variable), "type": type}
