"""``make demo``: the whole chain on one machine, from simulated alerts to the TOM's pages.

    tansu (loopback Kafka) ──> alerce-classifier run ──> classified topic ──> manage.py readstreams
          ^                         │ store (SQLite)                               │
    alerce-classifier simulate      └──> alerce-classifier serve (API) <── TOM ────┘  runserver :8000

Every process runs in its own process group with its log under var/demo/logs/; Ctrl-C (or
SIGTERM) stops them all. Running it again works: migrations and the demo user are idempotent,
the broker is memory-only and, on the same day, the simulated night is the same (the seed is
the night's MJD), so the store and the TOM change nothing they already hold.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from alerce_contract.mjd import now_mjd

REPO = Path(__file__).resolve().parents[1]
# Everything the demo writes lives under EXAMPLE_TOM_VAR_DIR (default var/, ignored by git).
VAR_ROOT = Path(os.environ.get("EXAMPLE_TOM_VAR_DIR", REPO / "var"))
VAR = VAR_ROOT / "demo"
LOGS = VAR / "logs"
BIN = Path(sys.executable).parent
DEMO_USER, DEMO_PASSWORD = "demo", "alerce-demo"
SN_HUNTER_HOURS = 36  # the simulated night ended at most a day and a half ago
INPUT_TOPIC, CLASSIFIED_TOPIC = "alerts-demo", "alerce-classified"  # ZTF and Rubin alerts both
WORKER_GROUP, TOM_GROUP = "demo-worker", "example-tom-demo"  # the worker's and the listener's

# One follow-up rule, so Tonight and "Request follow-up" have something to show: fresh SNe
# observable from Cerro Pachón with SOAR's imager, dry run (recorded, nothing submitted).
DEMO_RULE = {
    "name": "Fresh SNe from Cerro Pachon (demo, dry run)", "dry_run": True, "facility": "SOAR",
    "observation_type": "IMAGING", "site": "Cerro Pachon", "classifier_name": "stamp_classifier", "class_name": "SN",
    "min_probability": 0.7, "max_hours_since_first_detection": 72, "max_dec": 30.0, "window_hours": 24,
    "max_airmass": 2.0, "nightly_budget": 5,
    "template": {"proposal": "DEMO-2026A", "ipp_value": 1.05, "observation_mode": "NORMAL",
                 "optimization_type": "AIRMASS", "configuration_repeats": 1,
                 "instrument_type": "SOAR_GHTS_REDCAM_IMAGER", "c_1_configuration_type": "EXPOSE",
                 "c_1_guide_mode": "ON", "c_1_ic_1_readout_mode": "GHTS_R_2x2", "filter": "r-SDSS",
                 "exposure_time": 300, "exposure_count": 2},
}


def seed_followup_rule():
    """The demo's follow-up rule (created once; a rule edited in the admin is left as it is)."""
    from facilities.models import FollowupRule

    fields = {key: value for key, value in DEMO_RULE.items() if key != "name"}
    return FollowupRule.objects.get_or_create(name=DEMO_RULE["name"], defaults=fields)[0]


# The tour's other examples (the stream brings the SNe): the most probable object of each kind,
# by its light-curve class where the broker has one, else by its stamp class.
EXAMPLE_KINDS = {
    "periodic star": (("lc_classifier", ("RRL", "CEP", "E", "DSCT", "LPV", "Periodic-Other")),
                      ("stamp_classifier", ("VS",))),
    "AGN": (("lc_classifier", ("AGN", "QSO", "Blazar")), ("stamp_classifier", ("AGN",))),
}


def import_examples(username: str = DEMO_USER) -> list[str]:
    """Import a periodic star and an AGN from the broker through the data service, for the tour."""
    from django.contrib.auth.models import User

    from alerce_broker_plugin.dataservice import AlerceBrokerDataService
    from alerce_contract.client import AlerceApiError
    from tom_alerce.templatetags.alerce_extras import foldable_periodic_stars

    user = User.objects.get(username=username)
    service = AlerceBrokerDataService(user=user)
    imported = []
    try:  # the tour promises a folded light curve: a star whose period the tab folds on
        folded = next(foldable_periodic_stars(service.api), None)
    except AlerceApiError:
        folded = None
    for kind, ways in EXAMPLE_KINDS.items():
        if kind == "periodic star" and folded is not None:
            imported.append(import_for_tour(service, folded, user))
            continue
        for classifier, classes in ways:
            best = []
            for class_name in classes:
                try:
                    best += service.api.query_objects({"classifier": classifier, "class": class_name, "ranking": 1,
                                                       "order_by": "probability", "order_mode": "DESC",
                                                       "page_size": 1})["items"]
                except AlerceApiError:  # this broker has no such classifier (yet)
                    break
            if best:
                imported.append(import_for_tour(service, max(best, key=lambda i: i["probability"])["oid"], user))
                break
    return imported


def import_for_tour(service, oid: str, user) -> str:
    """Import one object through the data service, visible to the demo user; its target's name."""
    result = service.import_object(service.fetch_object(oid))
    result.target.give_user_access(user)
    return result.target.name


CREATE_DEMO_USER = f"""
from django.contrib.auth.models import User
user, _ = User.objects.get_or_create(username={DEMO_USER!r}, defaults={{'email': 'demo@example.org'}})
user.is_staff = user.is_superuser = True
user.set_password({DEMO_PASSWORD!r})
user.save()
"""


def last_night_mjd(now_mjd: float) -> float:
    """The MJD (integer) of the last Palomar night that has ended: its alerts are hours old."""
    from classifier_service.simulate.cadence import NIGHT_END

    today = float(int(now_mjd))
    return today if now_mjd - today >= NIGHT_END else today - 1.0


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port``. SO_REUSEADDR as the servers set it: a port the last demo
    left in TIME_WAIT is free to them, so a rerun keeps its ports."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens there (a previous demo still running, say), else any free port."""
    from classifier_service.stream.tansu import free_port as any_free_port  # the broker extra's

    return preferred if preferred and port_is_free(preferred) else any_free_port()


def wait_for_port(port: int, process: subprocess.Popen, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.25)
    return False


def tail(path: Path, n_lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n_lines:])
    except OSError:
        return ""


@dataclass
class Service:
    """A long-running child in its own process group, logging to var/demo/logs/<name>.log."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = LOGS / f"{self.name}.log"

    def start(self) -> "Service":
        log = self.log_path.open("ab")
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n".encode())
        log.flush()
        self.process = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self.running():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


@dataclass
class Demo:
    n_alerts: int
    seed: int | None  # None: the night's MJD, so reruns on one day send the same alerts
    tom_port: int
    api_port: int
    debug: bool = False  # Django's DEBUG pages: only when asked for (--debug)
    n_rubin_alerts: int = 0
    services: list[Service] = field(default_factory=list)
    broker: object | None = None
    gaps: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_tom.settings",
            "EXAMPLE_TOM_DEMO": "1",  # a fixed secret key: loopback only
            "DJANGO_DEBUG": "1" if self.debug else "0",
            "PYTHONUNBUFFERED": "1",
            "ALERCE_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
            "ALERCE_CLASSIFIED_TOPIC": CLASSIFIED_TOPIC,
            "ALERCE_API_URL": f"http://127.0.0.1:{self.api_port}",
            "ALERCE_TOM_GROUP_ID": TOM_GROUP,
        }

    def say(self, text: str) -> None:
        print(f"[demo] {text}", flush=True)

    def start_broker(self) -> None:
        """The broker, with both topics made up front: the worker and the listener subscribe
        to topics that exist, so each joins its group at once, rather than logging "unknown
        topic" and waiting to discover it once the simulator or the first classified alert
        has created it."""
        from classifier_service.stream.kafka import create_topics
        from classifier_service.stream.tansu import TansuBroker

        self.broker = TansuBroker(log_path=str(LOGS / "tansu.log")).start()
        create_topics(self.broker.bootstrap_servers, {INPUT_TOPIC: 1, CLASSIFIED_TOPIC: 1})
        self.say(f"Kafka (tansu, memory only) at {self.broker.bootstrap_servers}")

    def run_once(self, name: str, argv: list[str], timeout_s: float = 300) -> bool:
        """A setup step; its output goes to its log, a failure is reported and the demo goes on."""
        service = Service(name, argv, self.env).start()
        try:
            ok = service.process.wait(timeout_s) == 0
        except subprocess.TimeoutExpired:
            service.stop()
            ok = False
        if not ok:
            self.gaps.append(f"{name} failed; see {service.log_path}:\n{tail(service.log_path)}")
        return ok

    def setup_tom(self) -> None:
        manage = [str(BIN / "python"), "manage.py"]
        self.say("TOM database: migrate and the demo user")
        if self.run_once("migrate", [*manage, "migrate", "--noinput"]):
            self.run_once("demo-user", [*manage, "shell", "-c", CREATE_DEMO_USER])
            self.run_once("demo-rule", [*manage, "shell", "-c",
                                        "from example_tom.demo import seed_followup_rule; seed_followup_rule()"])

    def start_service(self, name: str, argv: list[str], port: int | None = None) -> Service | None:
        service = Service(name, argv, self.env).start()
        self.services.append(service)
        if port is not None and not wait_for_port(port, service.process, timeout_s=120):
            self.gaps.append(f"{name} is not listening on {port}; see {service.log_path}:\n{tail(service.log_path)}")
            return None
        return service

    @staticmethod
    def create_store(url: str) -> None:
        from classifier_service.store import Store

        store = Store(url)
        store.create_all()
        store.dispose()

    def start_services(self) -> None:
        cli = [str(BIN / "alerce-classifier")]
        store = f"sqlite:///{VAR / 'alerce.sqlite3'}"
        manage = [str(BIN / "python"), "manage.py"]
        self.create_store(store)  # serve refuses a path with no store; the worker fills it
        self.start_service("api", [*cli, "serve", "--db", store, "--port", str(self.api_port)], self.api_port)
        self.start_service("worker", [*cli, "run", "--bootstrap-servers", self.broker.bootstrap_servers,
                                      "--topic", INPUT_TOPIC, "--output-topic", CLASSIFIED_TOPIC,
                                      "--group-id", WORKER_GROUP, "--db", store, "--fast-group"])
        self.start_service("listener", [*manage, "readstreams"])
        # --insecure: runserver serves the static files (vendored JS/CSS) with DEBUG off too
        self.start_service("tom", [*manage, "runserver", f"127.0.0.1:{self.tom_port}", "--noreload", "--insecure"],
                           self.tom_port)

    def import_examples(self, timeout_s: float = 180.0) -> None:
        """Once the worker has stored the night (it has committed every alert simulated into
        the input topic), import the tour's periodic star and AGN."""
        if not wait_for_group(self.broker.bootstrap_servers, WORKER_GROUP, INPUT_TOPIC, timeout_s):
            self.gaps.append(f"the worker had not stored the night after {timeout_s:.0f} s; see {LOGS / 'worker.log'}")
        self.say("the tour's examples: a periodic star and an AGN from the broker")
        self.run_once("demo-examples", [str(BIN / "python"), "manage.py", "shell", "-c",
                                        "from example_tom.demo import import_examples; print(import_examples())"])

    def simulate(self) -> None:
        """The last night's alerts, into Kafka, with the simulator's progress bar."""
        start_mjd = last_night_mjd(now_mjd())
        self.say(f"simulating {self.n_alerts} alerts into topic {INPUT_TOPIC}")
        seed = int(start_mjd) if self.seed is None else self.seed
        argv = [str(BIN / "alerce-classifier"), "simulate", "--n-alerts", str(self.n_alerts), "--seed",
                str(seed), "--start-mjd", f"{start_mjd:.1f}", "--bootstrap-servers",
                self.broker.bootstrap_servers, "--topic", INPUT_TOPIC]
        if subprocess.run(argv, cwd=REPO, env=self.env).returncode != 0:
            self.gaps.append("alerce-classifier simulate failed (its output is above)")
        if self.n_rubin_alerts:  # Rubin's night beside ZTF's, on the same topic: the worker tells them apart
            self.say(f"simulating {self.n_rubin_alerts} Rubin alerts into topic {INPUT_TOPIC}")
            rubin = [*argv[:2], "--survey", "lsst", "--n-alerts", str(self.n_rubin_alerts), *argv[4:]]
            if subprocess.run(rubin, cwd=REPO, env=self.env).returncode != 0:
                self.gaps.append("alerce-classifier simulate --survey lsst failed (its output is above)")

    def report(self) -> None:
        for gap in self.gaps:
            self.say(f"WARNING: {gap}")
        down = [s.name for s in self.services if not s.running()]
        if down:
            self.say(f"WARNING: not running: {', '.join(down)} (logs in {LOGS})")
        print(f"""
  TOM        http://127.0.0.1:{self.tom_port}/   login: {DEMO_USER} / {DEMO_PASSWORD}  (the home page is a tour)
  SN Hunter  http://127.0.0.1:{self.tom_port}/alerce/sn-hunter/?hours={SN_HUNTER_HOURS}
  Targets    http://127.0.0.1:{self.tom_port}/targets/
  Tonight    http://127.0.0.1:{self.tom_port}/facilities/tonight/
  API        http://127.0.0.1:{self.api_port}/docs
  Kafka      {self.broker.bootstrap_servers}  (topics {INPUT_TOPIC} -> {CLASSIFIED_TOPIC})
  Logs       {LOGS}
  Ctrl-C stops everything.
""", flush=True)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        if self.broker is not None:
            self.broker.stop()
        self.say("stopped")


def wait_for_group(bootstrap_servers: str, group_id: str, topic: str, timeout_s: float) -> bool:
    """Whether the consumer group caught up with ``topic`` (stored and committed every message
    in it) within ``timeout_s``: an observable end, where waiting for a count to stop growing
    would cost a fixed settle on every run."""
    from classifier_service.stream.consumer import caught_up

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if caught_up(bootstrap_servers, group_id, topic):
            return True
        time.sleep(0.5)
    return False


def wait_for_classified_targets(bootstrap_servers: str, timeout_s: float) -> int:
    """How many TOM targets have classifications once the listener has caught up with the
    classified topic (or when time runs out). Call it after the worker has caught up, so that
    the classified topic is complete."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_tom.settings")
    import django

    django.setup()
    from tom_alerce.models import TargetClassification

    wait_for_group(bootstrap_servers, TOM_GROUP, CLASSIFIED_TOPIC, timeout_s)
    return TargetClassification.objects.values("target").distinct().count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_tom.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=int(os.environ.get("DEMO_ALERTS", 300)),
                        help="alerts in the simulated night (DEMO_ALERTS, default 300)")
    parser.add_argument("--rubin-alerts", type=int, default=int(os.environ.get("DEMO_RUBIN_ALERTS", 100)),
                        help="alerts in the simulated Rubin night beside ZTF's; 0 skips it "
                             "(DEMO_RUBIN_ALERTS, default 100)")
    parser.add_argument("--seed", type=int, default=None,
                        help="simulation seed (default: the night's MJD; same seed, same alerts)")
    parser.add_argument("--port", type=int, default=8000, help="TOM port (another free one if taken)")
    parser.add_argument("--debug", action="store_true", default=os.environ.get("DEMO_DEBUG") == "1",
                        help="run the TOM with Django's DEBUG on (DEMO_DEBUG=1); off by default")
    parser.add_argument("--check", type=float, default=None, metavar="SECONDS",
                        help="smoke test: wait up to SECONDS for classified targets in the TOM, then stop")
    args = parser.parse_args(argv)

    LOGS.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("EXAMPLE_TOM_VAR_DIR", str(VAR_ROOT))
    os.environ.setdefault("EXAMPLE_TOM_DEMO", "1")  # the example TOM's loopback demo mode (DEBUG, fixed key)
    demo = Demo(args.alerts, args.seed, free_port(args.port), free_port(8001), debug=args.debug,
                n_rubin_alerts=args.rubin_alerts)
    if demo.tom_port != args.port:
        demo.say(f"port {args.port} is taken; the TOM uses {demo.tom_port}")
    stop_requested = False

    def on_signal(signum, _frame):
        nonlocal stop_requested
        stop_requested = True
        for other in (signal.SIGINT, signal.SIGTERM):  # let the shutdown (bounded by timeouts) finish
            signal.signal(other, signal.SIG_IGN)
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start us with it ignored
        signal.signal(signum, on_signal)
    try:
        demo.start_broker()
        demo.setup_tom()
        demo.start_services()
        demo.simulate()
        demo.import_examples()
        if args.check is not None:
            n = wait_for_classified_targets(demo.broker.bootstrap_servers, args.check)
            demo.report()
            demo.say(f"check: {n} TOM targets with classifications")
            return 0 if n and not demo.gaps else 1
        demo.report()
        while not stop_requested:
            time.sleep(1)
    except KeyboardInterrupt:
        print()
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
