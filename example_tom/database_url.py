"""DATABASE_URL (sqlite:///path, postgresql://user@host:port/name) to a Django DATABASES entry."""
from __future__ import annotations

from urllib.parse import unquote, urlparse

_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
}

# The TOM's pages, its stream listener and a person's imports write at once. Transactions take
# the write lock when they begin (a deferred one that upgrades fails at once with "database is
# locked", whatever the timeout), wait for it up to 30 s, and WAL lets pages read meanwhile.
SQLITE_OPTIONS = {
    "timeout": 30,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def database_from_url(url: str) -> dict:
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme not in _ENGINES:
        raise ValueError(f"unsupported DATABASE_URL scheme {parsed.scheme!r}")
    if scheme == "sqlite":
        return {
            "ENGINE": _ENGINES[scheme],
            "NAME": unquote(parsed.path[1:] if parsed.path.startswith("//") else parsed.path),
            "OPTIONS": SQLITE_OPTIONS,
        }
    return {
        "ENGINE": _ENGINES[scheme],
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": parsed.hostname or "",
        "PORT": str(parsed.port or ""),
    }
