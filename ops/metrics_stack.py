"""The metrics pipeline behind ``make dashboard`` (and the dashboard test), all on this machine:

    Confab --UDP--> statsd (Etsy's daemon, npm, ops/statsd) --TCP--> carbon-cache (Debian graphite-carbon,
    whisper files) <-- graphite-web (Debian graphite-web: the render API and its dashboard UI)

Everything lives in one state folder (configuration, whisper files, graphite-web's database, logs), so
graphs keep their history from one run to the next. The panels are ``ops/dashboard/grafana.json``'s, the
dashboard to import into a Grafana; the same panels are stored as graphite-web's dashboard ``confab``.

    python ops/metrics_stack.py [--state-dir data/dashboard] [--web-port 8090] [--statsd-port 8125]

prints the dashboard's URL and runs until interrupted. It needs Debian's graphite-carbon and graphite-web
(``apt-get install graphite-carbon graphite-web``) and ``npm ci --prefix ops/statsd``; ``make dashboard``
installs what is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
GRAFANA_DASHBOARD = HERE / "dashboard" / "grafana.json"
STATSD = HERE / "statsd" / "node_modules" / "statsd" / "stats.js"
CARBON = Path("/usr/bin/carbon-cache")
SYSTEM_PYTHON = Path("/usr/bin/python3")
GRAPHITE_STATIC = Path("/usr/share/graphite-web/static")
DASHBOARD_NAME = "confab"
#: what a timer is flushed as (statsd's full list is three times longer, and every entry is a whisper file)
TIMER_METRICS = ["count", "count_ps", "mean", "median", "upper", "upper_percent"]


def missing() -> list[str]:
    """What this machine lacks to run the pipeline, as install hints; empty when all is there."""
    lacks = []
    if not CARBON.exists():
        lacks.append("Debian's graphite-carbon (apt-get install graphite-carbon)")
    if not (SYSTEM_PYTHON.exists() and Path("/usr/lib/python3/dist-packages/graphite").is_dir()):
        lacks.append("Debian's graphite-web (apt-get install graphite-web)")
    if not (STATSD.exists() and shutil.which("node")):
        lacks.append("node and the statsd daemon (npm ci --prefix ops/statsd)")
    return lacks


@dataclass
class Ports:
    statsd: int = 8125
    statsd_admin: int = 8126
    carbon_line: int = 22003
    carbon_pickle: int = 22004
    carbon_query: int = 27002
    web: int = 8090


@dataclass
class Panel:
    title: str
    targets: list[str]


def panels() -> list[Panel]:
    """The dashboard's panels, from the Grafana dashboard (the one definition of them)."""
    dashboard = json.loads(GRAFANA_DASHBOARD.read_text())
    return [Panel(p["title"], [t["target"] for t in p["targets"]]) for p in dashboard["panels"]]


def graphite_web_state(flush_s: float, minutes: int) -> dict[str, Any]:
    """The same panels as a graphite-web dashboard state (what its UI saves): the last ``minutes``,
    refreshed with every statsd flush (every 5 s at most)."""
    size = {"width": 520, "height": 260}
    graphs = [[f"panel-{index}", {"target": panel.targets, "title": panel.title, "hideLegend": "false",
                                  "lineWidth": 1.5, "yMin": 0, "lineMode": "connected"}, ""]
              for index, panel in enumerate(panels())]
    return {"name": DASHBOARD_NAME, "graphs": graphs, "graphSize": size,
            "timeConfig": {"type": "relative", "relativeStartQuantity": str(minutes), "relativeStartUnits": "minutes",
                           "relativeUntilQuantity": "", "relativeUntilUnits": "now"},
            "refreshConfig": {"enabled": True, "interval": int(max(flush_s, 5) * 1000)},
            "defaultGraphParams": {"from": f"-{minutes}minutes", "until": "now", "bgcolor": "white", "fgcolor": "black",
                                   "majorGridLineColor": "#cccccc", "minorGridLineColor": "#eeeeee", **size}}


@dataclass
class Stack:
    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    flush_ms: int = 2000
    retentions: str = "2s:6h,1m:7d"  # the finest step must be statsd's flush interval
    window_minutes: int = 15  # what the graphite-web dashboard shows
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def dashboard_url(self) -> str:
        return f"{self.web_url}/dashboard/{DASHBOARD_NAME}"

    # --- configuration --------------------------------------------------------------------------
    def _configure(self) -> None:
        conf, storage = self.state_dir / "conf", self.state_dir / "storage"
        for folder in (conf, storage / "whisper", storage / "log" / "webapp", self.state_dir / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        (conf / "statsd.json").write_text(json.dumps({
            "address": "127.0.0.1", "port": self.ports.statsd, "mgmt_address": "127.0.0.1",
            "mgmt_port": self.ports.statsd_admin, "graphiteHost": "127.0.0.1", "graphitePort": self.ports.carbon_line,
            "flushInterval": self.flush_ms, "percentThreshold": [90, 99], "calculatedTimerMetrics": TIMER_METRICS,
            "backends": ["./backends/graphite"], "graphite": {"legacyNamespace": False},
            "automaticConfigReload": False}, indent=1))
        (conf / "carbon.conf").write_text(f"""[cache]
STORAGE_DIR = {storage}/
LOCAL_DATA_DIR = {storage}/whisper/
WHITELISTS_DIR = {storage}/lists/
CONF_DIR = {conf}/
LOG_DIR = {self.state_dir}/logs/
PID_DIR = {self.state_dir}/
USER =
ENABLE_LOGROTATION = False
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.ports.carbon_line}
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {self.ports.carbon_pickle}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {self.ports.carbon_query}
ENABLE_UDP_LISTENER = False
USE_FLOW_CONTROL = True
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_FALLOCATE_CREATE = False
""")
        step = self.retentions.split(",")[0].split(":")[0]
        (conf / "storage-schemas.conf").write_text(
            f"[statsd_internal]\npattern = ^stats\\.statsd\\.\nretentions = {step}:1h\n\n"
            f"[everything]\npattern = .*\nretentions = {self.retentions}\n")
        # counters are per-interval rates and counts: averaging or summing them is statsd's business already
        (conf / "storage-aggregation.conf").write_text(
            "[counts]\npattern = \\.count$\nxFilesFactor = 0\naggregationMethod = sum\n\n"
            "[upper]\npattern = \\.upper(_\\d+)?$\nxFilesFactor = 0\naggregationMethod = max\n\n"
            "[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n")
        content = self.state_dir / "webapp" / "content"  # where graphite-web's settings look for static files
        if not content.is_symlink():
            content.parent.mkdir(exist_ok=True)
            content.symlink_to(GRAPHITE_STATIC)
        secret_file = self.state_dir / "graphite_secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(32))
        (conf / "confab_graphite.py").write_text(f"""# graphite-web's local settings for Confab's dashboard (written by ops/metrics_stack.py)
SECRET_KEY = {secret_file.read_text().strip()!r}
ALLOWED_HOSTS = ["*"]
TIME_ZONE = "UTC"
STORAGE_DIR = {str(storage)!r}
WHISPER_DIR = {str(storage / 'whisper')!r}
LOG_DIR = {str(storage / 'log' / 'webapp')!r}
INDEX_FILE = {str(storage / 'index')!r}
CONF_DIR = {str(conf)!r}
STATIC_ROOT = {str(GRAPHITE_STATIC)!r}
WEBAPP_DIR = {str(content.parent)!r}  # its settings find static files (the theme's CSS) in WEBAPP_DIR/content
DATABASES = {{"default": {{"NAME": {str(self.state_dir / 'graphite.db')!r}, "ENGINE": "django.db.backends.sqlite3"}}}}
CARBONLINK_HOSTS = ["127.0.0.1:{self.ports.carbon_query}:a"]
DEFAULT_CACHE_DURATION = 0
DEFAULT_XFILES_FACTOR = 0
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
""")

    # --- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        log = (self.state_dir / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(command, cwd=self.state_dir, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **env}, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start(self, timeout_s: float = 60.0) -> None:
        """Configure, then start carbon, statsd and graphite-web; returns once each answers."""
        self._configure()
        conf = self.state_dir / "conf"
        (self.state_dir / "carbon-cache-a.pid").unlink(missing_ok=True)  # a killed run's leftover stops carbon
        try:
            self._spawn("carbon", [str(SYSTEM_PYTHON), str(CARBON), f"--config={conf / 'carbon.conf'}", "--debug",
                                   "start"], GRAPHITE_ROOT=str(self.state_dir))
            self._spawn("statsd", ["node", str(STATSD), str(conf / "statsd.json")])
            setup = subprocess.run([str(SYSTEM_PYTHON), str(HERE / "graphite_web.py"), str(conf), "setup"],
                                   input=json.dumps({DASHBOARD_NAME: graphite_web_state(self.flush_ms / 1000, self.window_minutes)}),
                                   capture_output=True, text=True, timeout=timeout_s)
            if setup.returncode != 0:
                raise RuntimeError(f"graphite-web setup failed: {setup.stderr[-2000:]}")
            self._spawn("graphite-web", [str(SYSTEM_PYTHON), str(HERE / "graphite_web.py"), str(conf), "serve",
                                         str(self.ports.web)])
            deadline = time.monotonic() + timeout_s
            for port in (self.ports.carbon_line, self.ports.statsd_admin, self.ports.web):
                self._wait_for(port, deadline)
        except BaseException:
            self.stop()
            raise

    def _wait_for(self, port: int, deadline: float) -> None:
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[1]} exited with {process.returncode}: see "
                                       f"{self.state_dir / 'logs'}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nothing listens on {port}: see {self.state_dir / 'logs'}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    # --- reading back ----------------------------------------------------------------------------
    def render(self, target: str, since: str = "-10min") -> list[dict[str, Any]]:
        """``/render?format=json`` for ``target``: ``[{"target", "datapoints": [[value, time], …]}]``."""
        query = urllib.parse.urlencode({"target": target, "from": since, "format": "json"})
        with urllib.request.urlopen(f"{self.web_url}/render?{query}", timeout=30) as response:
            return json.load(response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=Path("data/dashboard"))
    parser.add_argument("--web-port", type=int, default=Ports.web)
    parser.add_argument("--statsd-port", type=int, default=Ports.statsd, help="where Confab sends (statsd.port)")
    args = parser.parse_args(argv)
    lacks = missing()
    if lacks:
        print("make dashboard needs " + "; ".join(lacks), file=sys.stderr)
        return 1
    stack = Stack(args.state_dir.resolve(), Ports(statsd=args.statsd_port, web=args.web_port))
    stack.start()
    print(f"statsd listens on udp://127.0.0.1:{stack.ports.statsd} (Confab's default statsd.host/port); "
          f"whisper files in {stack.state_dir / 'storage'}")
    print(f"dashboard: {stack.dashboard_url}  (Grafana: import {GRAFANA_DASHBOARD.relative_to(HERE.parent)})",
          flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while all(process.poll() is None for process in stack.processes):
            time.sleep(1)
        print(f"a process of the pipeline stopped: see {stack.state_dir / 'logs'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
