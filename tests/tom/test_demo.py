"""The demo's small decisions (the whole chain runs with `python -m example_tom.demo --check 150`)."""
from __future__ import annotations

import socket

from example_tom.demo import free_port, last_night_mjd


def test_the_simulated_night_is_the_last_one_that_has_ended():
    assert last_night_mjd(61365.55) == 61365.0  # 13:12 UTC: Palomar's night ended at 12:00 UTC
    assert last_night_mjd(61365.20) == 61364.0  # 04:48 UTC: tonight is still under way


def test_a_taken_port_is_replaced_by_a_free_one():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert free_port(taken) != taken
