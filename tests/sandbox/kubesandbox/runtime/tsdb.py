"""InfluxDB and Graphite beside a sandbox, started only when a test asks for them.

Debian's own servers run as plain processes of ours on 127.0.0.1 ports with their data under the
sandbox directory: `influxd` (InfluxDB 1.x: InfluxQL over /query, line protocol over /write),
`carbon-cache` (Graphite's storage, plaintext protocol) and Graphite's render API (`graphite-web`,
Debian's Django app, served by the standard library's WSGI server under the system Python, which
is where Debian installs it). A feeder (`tsdb_feeder`) scrapes Traefik's Prometheus endpoint every
second and writes each service's requests of that second to both, so the numbers come from real
traffic through Traefik.

Every process is recorded in the sandbox's PID directory, so `down` stops them even when the test
that started them died; the test stops them itself by PID (`stop`).
"""
import base64
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from .pids import PidDir, terminate_all

SYSTEM_PYTHON = "/usr/bin/python3"
GRAPHITE_WEB_RUNNER = Path(__file__).with_name("graphite_web.py")
INFLUXDB_DATABASE = "traefik"
INFLUXDB_USER = "sandbox"
# Graphite keeps one point per second for an hour: enough for short analysis windows.
CARBON_RETENTION = "1s:1h"
READY_TIMEOUT = 60.0


def _request(method, url, data=None, headers=None, timeout=5):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def missing_binaries():
    """The Debian packages' commands this needs that are not installed (setup.sh installs them)."""
    wanted = {"influxd": "influxdb", "carbon-cache": "graphite-carbon"}
    missing = [pkg for cmd, pkg in wanted.items() if shutil.which(cmd) is None]
    if not Path("/usr/lib/python3/dist-packages/graphite/wsgi.py").exists():
        missing.append("graphite-web")
    return missing


class TimeSeriesStores:
    """influxd, carbon-cache, graphite-web and the feeder, for one sandbox.

    ``ports`` is a callable returning n free 127.0.0.1 ports (the daemon's ``free_ports``).
    """

    def __init__(self, sandbox_dir, traefik_metrics_url, ports):
        self.id = uuid.uuid4().hex[:6]
        self.dir = Path(sandbox_dir) / f"tsdb-{self.id}"
        self.pids = PidDir(Path(sandbox_dir) / "pids")
        self.logs = Path(sandbox_dir) / "logs"
        self.traefik_metrics_url = traefik_metrics_url
        (self.influx_http, self.influx_rpc, self.carbon_line, self.carbon_pickle,
         self.carbon_query, self.graphite_http) = ports(6)
        self.influxdb_password = secrets.token_hex(12)
        self.influxdb_user = INFLUXDB_USER
        self.influxdb_database = INFLUXDB_DATABASE
        self.procs = {}

    @property
    def influxdb_url(self):
        return f"http://127.0.0.1:{self.influx_http}"

    @property
    def graphite_url(self):
        return f"http://127.0.0.1:{self.graphite_http}"

    # --- configuration ------------------------------------------------------------------------
    def _influxdb_config(self):
        data = self.dir / "influxdb"
        path = self.dir / "influxdb.conf"
        path.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.influx_rpc}"\n'
            "[meta]\n"
            f'  dir = "{data}/meta"\n'
            "[data]\n"
            f'  dir = "{data}/data"\n'
            f'  wal-dir = "{data}/wal"\n'
            "  query-log-enabled = false\n"
            "[monitor]\n"
            "  store-enabled = false\n"
            "[http]\n"
            f'  bind-address = "127.0.0.1:{self.influx_http}"\n'
            "  auth-enabled = true\n"
            "  log-enabled = false\n"
        )
        return path

    def _carbon_config(self):
        conf = self.dir / "carbon"
        storage = self.dir / "graphite"
        for d in (conf, storage / "whisper", storage / "lists", storage / "log"):
            d.mkdir(parents=True, exist_ok=True)
        (conf / "storage-schemas.conf").write_text(
            f"[sandbox]\npattern = .*\nretentions = {CARBON_RETENTION}\n")
        # A second's requests are summed when Graphite consolidates, not averaged.
        (conf / "storage-aggregation.conf").write_text(
            "[sandbox]\npattern = .*\nxFilesFactor = 0\naggregationMethod = sum\n")
        path = conf / "carbon.conf"
        path.write_text(
            "[cache]\n"
            f"STORAGE_DIR = {storage}/\n"
            f"LOCAL_DATA_DIR = {storage}/whisper/\n"
            f"WHITELISTS_DIR = {storage}/lists/\n"
            f"CONF_DIR = {conf}/\n"
            f"LOG_DIR = {storage}/log/\n"
            f"PID_DIR = {storage}/\n"
            "USER =\n"
            "ENABLE_LOGROTATION = False\n"
            "MAX_CACHE_SIZE = inf\n"
            "MAX_UPDATES_PER_SECOND = 5000\n"
            "MAX_CREATES_PER_MINUTE = inf\n"
            "LINE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"LINE_RECEIVER_PORT = {self.carbon_line}\n"
            "ENABLE_UDP_LISTENER = False\n"
            "PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"PICKLE_RECEIVER_PORT = {self.carbon_pickle}\n"
            "CACHE_QUERY_INTERFACE = 127.0.0.1\n"
            f"CACHE_QUERY_PORT = {self.carbon_query}\n"
            "LOG_UPDATES = False\n"
            "LOG_CREATES = False\n"
            "LOG_LISTENER_CONN_SUCCESS = False\n"
            "CARBON_METRIC_INTERVAL = 0\n"
        )
        return path, storage

    def _graphite_settings(self, storage):
        """graphite-web reads the module GRAPHITE_SETTINGS_MODULE names: ours points it at this
        store's whisper files and asks carbon-cache for the points it has not written yet."""
        settings_dir = self.dir / "graphite-web"
        settings_dir.mkdir(parents=True, exist_ok=True)
        (settings_dir / "sandbox_graphite_settings.py").write_text(
            f"SECRET_KEY = {secrets.token_hex(16)!r}\n"
            f"STORAGE_DIR = {str(storage) + '/'!r}\n"
            f"WHISPER_DIR = {str(storage / 'whisper') + '/'!r}\n"
            f"LOG_DIR = {str(storage / 'log') + '/'!r}\n"
            f"INDEX_FILE = {str(storage / 'index')!r}\n"
            "STANDARD_DIRS = [WHISPER_DIR]\n"
            f"CARBONLINK_HOSTS = ['127.0.0.1:{self.carbon_query}']\n"
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
            f"'NAME': {str(storage / 'graphite.db')!r}}}}}\n"
            "LOG_RENDERING_PERFORMANCE = False\n"
            "LOG_CACHE_PERFORMANCE = False\n"
            "USE_REMOTE_USER_AUTHENTICATION = False\n"
        )
        return settings_dir

    # --- processes ----------------------------------------------------------------------------
    def _spawn(self, name, argv, env=None):
        self.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.logs / f"tsdb-{name}-{self.id}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                    start_new_session=True)
        self.procs[name] = proc
        self.pids.record(f"tsdb-{name}-{self.id}", proc.pid)
        return proc

    def _wait(self, name, probe):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; see "
                                   f"{self.logs}/tsdb-{name}-{self.id}.log")
            if probe():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{name} not ready after {READY_TIMEOUT}s; see {self.logs}/tsdb-{name}-{self.id}.log")

    def influxql(self, statement, auth=True):
        """Run one InfluxQL statement as the store's admin; (status, parsed JSON or None)."""
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth:
            pair = f"{self.influxdb_user}:{self.influxdb_password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        status, body = _request("POST", f"{self.influxdb_url}/query",
                                data=urllib.parse.urlencode({"q": statement}).encode(), headers=headers)
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, None

    def start(self):
        missing = missing_binaries()
        if missing:
            raise RuntimeError("InfluxDB and Graphite need the Debian packages " + ", ".join(missing)
                               + " (scripts/setup.sh installs them)")
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_influxdb()
            self._start_graphite()
            self._start_feeder()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_influxdb(self):
        self._spawn("influxd", [shutil.which("influxd"), "run", "-config", str(self._influxdb_config())])
        self._wait("influxd", lambda: _request("GET", f"{self.influxdb_url}/ping")[0] == 204)
        # With authentication on, the first user may be created without credentials; it is the admin.
        status, body = self.influxql(
            f"CREATE USER {self.influxdb_user} WITH PASSWORD '{self.influxdb_password}' WITH ALL PRIVILEGES",
            auth=False)
        if status != 200:
            raise RuntimeError(f"influxd refused to create the admin user: {status} {body}")
        status, body = self.influxql(f"CREATE DATABASE {self.influxdb_database}")
        if status != 200:
            raise RuntimeError(f"influxd refused to create the database: {status} {body}")

    def _start_graphite(self):
        carbon_conf, storage = self._carbon_config()
        self._spawn("carbon-cache", [shutil.which("carbon-cache"), f"--config={carbon_conf}",
                                     f"--pidfile={storage}/carbon-cache.pid", "--logfile=-",
                                     "--nodaemon", "start"])
        self._wait("carbon-cache", lambda: _port_open(self.carbon_line) and _port_open(self.carbon_query))
        settings_dir = self._graphite_settings(storage)
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(settings_dir),
               "GRAPHITE_SETTINGS_MODULE": "sandbox_graphite_settings",
               "DJANGO_SETTINGS_MODULE": "graphite.settings"}
        self._spawn("graphite-web", [SYSTEM_PYTHON, str(GRAPHITE_WEB_RUNNER), "127.0.0.1",
                                     str(self.graphite_http)], env=env)
        self._wait("graphite-web", lambda: _request(
            "GET", f"{self.graphite_url}/render?target=sandbox.ready&format=json")[0] == 200)

    def _start_feeder(self):
        self._spawn("feeder", [sys.executable, "-m", "kubesandbox.runtime.tsdb_feeder",
                               "--traefik-metrics", self.traefik_metrics_url,
                               "--influxdb", self.influxdb_url, "--database", self.influxdb_database,
                               "--user", self.influxdb_user,
                               "--carbon", f"127.0.0.1:{self.carbon_line}"],
                    env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                         "INFLUXDB_PASSWORD": self.influxdb_password})
        time.sleep(0.2)
        if self.procs["feeder"].poll() is not None:
            raise RuntimeError(f"the feeder exited; see {self.logs}/tsdb-feeder-{self.id}.log")

    def stop(self):
        """Stops every process by PID (each in a session of its own), newest first."""
        names = list(self.procs)[::-1]
        pids = [self.procs[n].pid for n in names if self.procs[n].poll() is None]
        left = terminate_all(pids)
        for name in names:
            self.procs[name].poll()
            self.pids.forget(f"tsdb-{name}-{self.id}")
        self.procs.clear()
        return left


def _port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
