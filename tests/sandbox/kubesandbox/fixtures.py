"""pytest plugin: a sandbox per test session (started only when a test asks for it) and a fresh
namespace per test.

Set SANDBOX_ENV to the env file of a running sandbox to reuse it instead of starting one.
"""
import collections
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from .runtime.layout import PACKAGE_ROOT
from .runtime.pids import alive

KUBECTL = str(Path(sys.executable).parent / "kubectl")
UP_TIMEOUT = 3600


def _read_env_file(path):
    """env.json next to the env file holds the same values without shell quoting."""
    path = Path(path)
    json_path = path.with_name("env.json")
    if json_path.exists():
        return json.loads(json_path.read_text())
    values = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            values[key] = shlex.split(value)[0] if value else ""
    return values


def http(method, url, body=None, headers=None, timeout=30):
    """(status, bytes) for one request; HTTP errors are answers, not exceptions."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if isinstance(body, (dict, list)):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def traffic_split(url, host, n, path="/"):
    """Counter of the versions answering n requests sent through Traefik (non-200 counted by code)."""
    counts = collections.Counter()
    for _ in range(n):
        status, body = http("GET", url.rstrip("/") + path, headers={"Host": host}, timeout=10)
        if status == 200:
            counts[json.loads(body).get("version")] += 1
        else:
            counts[status] += 1
    return counts


class Sandbox:
    def __init__(self, env_file, owned=False):
        self.env_file = Path(env_file)
        self.env = _read_env_file(self.env_file)
        self.dir = Path(self.env["SANDBOX_DIR"])
        self.kubeconfig = self.env["KUBECONFIG"]
        self.api_url = self.env.get("SANDBOX_API_URL")
        self.traefik_url = self.env["TRAEFIK_URL"]
        self.traefik_api_url = self.env["TRAEFIK_API_URL"]
        self.prometheus_url = self.env["PROMETHEUS_URL"]
        self.pushgateway_url = self.env.get("PUSHGATEWAY_URL")
        self.control_url = self.env["SANDBOX_CONTROL_URL"]
        self.owned = owned

    # --- processes ---------------------------------------------------------------------------
    def process_env(self, **extra):
        env = dict(os.environ)
        env.update({k: v for k, v in self.env.items() if k != "PATH"})
        env["PATH"] = str(Path(KUBECTL).parent) + os.pathsep + env.get("PATH", "")
        env.update(extra)
        return env

    def kubectl(self, *args, input=None, check=True, timeout=60):
        done = subprocess.run([KUBECTL, *args], input=input, capture_output=True, text=True,
                              env=self.process_env(), timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def apply(self, yaml_text, namespace=None):
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.kubectl(*args, input=yaml_text)

    def cli(self, *args, check=True, timeout=60):
        env = self.process_env(PYTHONPATH=str(PACKAGE_ROOT))
        done = subprocess.run([sys.executable, "-m", "kubesandbox.cli", "--dir", str(self.dir), *args],
                              capture_output=True, text=True, env=env, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"kubesandbox {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    # --- control API --------------------------------------------------------------------------
    def control(self, method, path, body=None, timeout=60):
        status, data = http(method, self.control_url + path, body, timeout=timeout)
        return status, (json.loads(data) if data else None)

    def status(self):
        return self.control("GET", "/status")[1]

    def pods(self, namespace=None):
        pods = self.control("GET", "/pods")[1]
        return [p for p in pods if namespace is None or p["namespace"] == namespace]

    def set_faults(self, **kw):
        status, body = self.control("PUT", "/faults", kw)
        assert status == 200, body
        return body

    def clear_faults(self):
        return self.control("DELETE", "/faults")[1]

    def requests(self, since=0):
        return self.control("GET", f"/requests?since={since}")[1]["entries"]

    def last_request_index(self):
        return self.control("GET", "/requests?since=999999999999")[1]["last_index"]

    def component(self, name, action):
        status, body = self.control("POST", f"/components/{name}/{action}")
        assert status == 200, body
        return body

    # --- Traefik and Prometheus -----------------------------------------------------------------
    def traffic_split(self, host, n, path="/"):
        return traffic_split(self.traefik_url, host, n, path)

    def traefik_weights(self, namespace, name):
        """{service: weight} of a weighted TraefikService as Traefik itself currently serves it."""
        status, body = http("GET", f"{self.traefik_api_url}/api/http/services/{namespace}-{name}@kubernetescrd", timeout=5)
        if status != 200:
            return None
        weighted = json.loads(body).get("weighted") or {}
        return {s["name"]: s.get("weight") for s in weighted.get("services") or []}

    def wait_for_weights(self, namespace, name, weights, port=80, timeout=10.0, interval=0.02):
        """Polls Traefik's API until it serves `weights` ({service: weight}); returns the seconds it took."""
        want = {f"{namespace}-{svc}-{port}": w for svc, w in weights.items()}
        started = time.monotonic()
        seen = None
        while time.monotonic() - started < timeout:
            seen = self.traefik_weights(namespace, name)
            if seen == want:
                return time.monotonic() - started
            time.sleep(interval)
        raise AssertionError(f"Traefik weights for {namespace}/{name} are {seen}, expected {want}")

    def wait_for_versions(self, host, versions, n=10, timeout=10.0):
        """Sends rounds of n requests until exactly `versions` answer (Traefik has the pods' endpoints)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.traffic_split(host, n)
            if set(counts) == set(versions):
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"{host} answered {dict(counts)}, expected only {sorted(versions)}")
            time.sleep(0.05)

    def prometheus_query(self, query):
        q = urllib.parse.urlencode({"query": query})
        status, body = http("GET", f"{self.prometheus_url}/api/v1/query?{q}", timeout=10)
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def wait_for_rollout(self, namespace, deployment, timeout=60):
        return self.kubectl("-n", namespace, "rollout", "status", f"deployment/{deployment}", f"--timeout={timeout}s",
                            timeout=timeout + 10)


def start_sandbox(tmpdir, *up_args, timeout=UP_TIMEOUT):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    done = subprocess.run([sys.executable, "-m", "kubesandbox.cli", "--dir", str(tmpdir), "up", "--quiet", *up_args],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"sandbox did not start:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def stop_sandbox(tmpdir):
    env = dict(os.environ, PYTHONPATH=str(PACKAGE_ROOT))
    return subprocess.run([sys.executable, "-m", "kubesandbox.cli", "--dir", str(tmpdir), "down"],
                          capture_output=True, text=True, env=env, timeout=120)


def processes_of(directory):
    """PIDs of every process carrying this sandbox's marker in its environment."""
    marker = f"KUBESANDBOX_DIR={directory}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@contextlib.contextmanager
def owned_sandbox(*up_args, timeout=UP_TIMEOUT):
    """A sandbox in a temporary directory, stopped by its PID files whatever happens; and should
    this process be killed before it can stop it, the sandbox stops itself (``--owner-pid``)."""
    tmpdir = Path(tempfile.mkdtemp(prefix="kubesandbox-"))
    try:
        yield Sandbox(start_sandbox(tmpdir, "--owner-pid", str(os.getpid()), *up_args, timeout=timeout),
                      owned=True)
    finally:
        stop_sandbox(tmpdir)
        if not os.environ.get("KUBESANDBOX_KEEP"):
            shutil.rmtree(tmpdir, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox():
    """A sandbox for the test session: etcd, kube-apiserver, kube-controller-manager and
    kube-scheduler, with our kubelet, Service forwarders and DNS, Traefik and Prometheus.
    SANDBOX_ENV reuses a running one. The first start on a machine builds the control plane's
    binaries, hence the long timeout."""
    reuse = os.environ.get("SANDBOX_ENV")
    if reuse:
        yield Sandbox(reuse)
        return
    with owned_sandbox(timeout=UP_TIMEOUT) as sb:
        yield sb


@pytest.fixture(scope="module")
def time_series_stores(sandbox):
    """InfluxDB and Graphite (Debian's servers) fed from this sandbox's Traefik, for the tests of one
    module; started only when a test asks, stopped by PID afterwards (``runtime/tsdb.py``)."""
    from .daemon import free_ports
    from .runtime.tsdb import TimeSeriesStores

    stores = TimeSeriesStores(sandbox.dir, sandbox.env["TRAEFIK_METRICS_URL"], free_ports).start()
    try:
        yield stores
    finally:
        stores.stop()


@pytest.fixture
def namespace(sandbox):
    name = f"t-{uuid.uuid4().hex[:8]}"
    sandbox.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n")
    try:
        yield name
    finally:
        sandbox.kubectl("delete", "namespace", name, "--wait=false", check=False)
