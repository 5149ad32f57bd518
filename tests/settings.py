"""The example TOM's settings under test: as deployed (DEBUG off), with a throw-away secret key.

example_tom/settings.py refuses to start without DJANGO_SECRET_KEY outside the demo.
"""
import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-" + "0" * 32)

from example_tom.settings import *  # noqa: E402,F401,F403
