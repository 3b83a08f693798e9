"""Shared plumbing of the benchmark: the sandbox, child processes, playbook runs, load and probes.

Every process the benchmark starts is registered here and stopped by its PID (process group)
when the benchmark ends, also on an error or a signal.
"""
import datetime
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

from kubesandbox.fixtures import Sandbox  # noqa: E402  (the sandbox's own client helpers)

VENV_BIN = Path(sys.executable).parent
EXAMPLES = ROOT / "examples" / "podinfo"
HOST_SUFFIX = "app.example.com"


# --- child processes ---------------------------------------------------------------------------

class Processes:
    """Children started in their own process group, so each can be stopped with all it started."""

    def __init__(self):
        self._procs = []
        self._lock = threading.Lock()

    def start(self, cmd, **kwargs):
        kwargs.setdefault("start_new_session", True)
        proc = subprocess.Popen(cmd, **kwargs)
        with self._lock:
            self._procs.append(proc)
        return proc

    def stop(self, proc, grace=5.0):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)

    def stop_all(self):
        for proc in list(self._procs):
            self.stop(proc, grace=3.0)


PROCS = Processes()


# --- the sandbox -------------------------------------------------------------------------------

def sandbox_from_env_file(env_file):
    return Sandbox(env_file)


def ansible_env(sb, **extra):
    env = sb.process_env()  # the sandbox's variables, the venv's bin first in PATH
    # Releases run as the least-privilege ServiceAccount of rbac/, as users run them (AWX, CI);
    # kubectl (setting up the apps, changing images) stays the sandbox's admin.
    env["KUBECONFIG"] = sb.env.get("SANDBOX_COLLECTION_KUBECONFIG") or sb.kubeconfig
    env.update({
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    })
    env.update(extra)
    return env


def kubectl(sb, *args, input=None, check=True):
    return sb.kubectl(*args, input=input, check=check, timeout=120)


def host_for(namespace):
    return "{0}.{1}".format(namespace, HOST_SUFFIX)


def load_example(name, namespace):
    docs = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def deploy_podinfo(sb, namespace, image_tag="4.0.5"):
    """The article's podinfo Deployment + HPA and an IngressRoute for <namespace>.app.example.com."""
    kubectl(sb, "apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {0}\n".format(namespace))
    docs = load_example("deployment.yaml", namespace)
    if (EXAMPLES / "hpa.yaml").exists():
        docs += load_example("hpa.yaml", namespace)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = "stefanprodan/podinfo:" + image_tag
    route = load_example("ingressroute.yaml", namespace)[0]
    route["spec"]["routes"][0]["match"] = "Host(`{0}`)".format(host_for(namespace))
    docs.append(route)
    sb.apply(yaml.safe_dump_all(docs), namespace=namespace)


def wait_rollout(sb, namespace, name="podinfo", timeout=90):
    sb.wait_for_rollout(namespace, name, timeout=timeout)


def canary_manifest(namespace, interval="2s", step_weight=5, max_weight=50, threshold=2,
                    metric_interval="15s", step_weights=None):
    """The article's Canary with a short interval and without webhooks (the benchmark brings the load)."""
    analysis = {
        "interval": interval,
        "threshold": threshold,
        "metrics": [
            {"name": "request-success-rate", "interval": metric_interval, "thresholdRange": {"min": 99}},
            {"name": "request-duration", "interval": metric_interval, "thresholdRange": {"max": 500}},
        ],
    }
    if step_weights:
        analysis["stepWeights"] = list(step_weights)
    else:
        analysis.update(stepWeight=step_weight, maxWeight=max_weight)
    return {
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "podinfo", "namespace": namespace},
        "spec": {
            "provider": "traefik",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "autoscalerRef": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"},
            "progressDeadlineSeconds": 60,
            "service": {"port": 80, "targetPort": 9898},
            "analysis": analysis,
        },
    }


def write_canary(workdir, namespace, **kw):
    path = Path(workdir) / "canary-{0}.yaml".format(namespace)
    path.write_text(yaml.safe_dump(canary_manifest(namespace, **kw)))
    return path


def set_image(sb, namespace, tag, env=None):
    kubectl(sb, "-n", namespace, "set", "image", "deployment/podinfo", "podinfod=stefanprodan/podinfo:" + tag)
    if env:
        kubectl(sb, "-n", namespace, "set", "env", "deployment/podinfo", *["{0}={1}".format(k, v) for k, v in env.items()])


# --- ansible-playbook runs ---------------------------------------------------------------------

class PlaybookRun:
    """One ansible-playbook run: wall time, return code, and the json callback's report."""

    def __init__(self, cmd, rc, started, ended, stdout, stderr, peak_rss=None, cpu=None):
        self.cmd = cmd
        self.cpu = cpu  # user + system CPU seconds of the run's whole process tree
        self.rc = rc
        self.started = started
        self.ended = ended
        self.wall = ended - started
        self.stdout = stdout
        self.stderr = stderr
        self.peak_rss = peak_rss
        try:
            self.report = json.loads(stdout[stdout.index("{"):]) if "{" in stdout else None
        except ValueError:
            self.report = None

    def tasks(self):
        """[(name, action, start_epoch, end_epoch, {host: result}, path)] in order (name without the role
        prefix, path as file:line); includes have no end and are left out."""
        out = []
        for play in (self.report or {}).get("plays", []):
            for task in play.get("tasks", []):
                info = task["task"]
                start = parse_time(info["duration"].get("start"))
                end = parse_time(info["duration"].get("end"))
                if end is None:
                    continue
                hosts = task.get("hosts", {})
                action = next((r.get("action") for r in hosts.values() if r.get("action")), "")
                name = info["name"].split(" : ", 1)[-1]
                out.append((name, action, start, end, hosts, info.get("path") or ""))
        return out

    def failure(self):
        """A short text of what failed, for the report."""
        msgs = []
        for name, _action, _s, _e, hosts, _path in self.tasks():
            for host, result in hosts.items():
                if result.get("failed") and not result.get("ignore_errors"):
                    msgs.append("{0}: {1}: {2}".format(host, name, str(result.get("msg", ""))[:300]))
        if msgs:
            return msgs[-1]
        tail = (self.stderr or self.stdout or "").strip().splitlines()[-3:]
        return " / ".join(tail)[:400]


def parse_time(text):
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.rstrip("Z")).replace(tzinfo=datetime.timezone.utc).timestamp()


def _tree_rss_kib(root_pid):
    """Sum of VmRSS of a process and all its descendants (read from /proc)."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/{0}/stat".format(entry)) as fh:
                stat = fh.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            with open("/proc/{0}/status".format(entry)) as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss[int(entry)] = int(line.split()[1])
                        break
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_playbook(sb, playbook, extra_vars=None, inventory=None, env_extra=None, sample_rss=False, timeout=1200):
    cmd = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    env = ansible_env(sb, **(env_extra or {}))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    proc = PROCS.start(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(proc.pid))
            done.wait(0.2)

    thread = None
    if sample_rss:
        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        done.set()
        PROCS.stop(proc)
    ended = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # other children reaped meanwhile (a stopped hey) would count too: runs are not overlapped with those
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    if thread:
        thread.join()
    return PlaybookRun(cmd, proc.returncode, started, ended, stdout, stderr,
                       peak_rss=peak[0] * 1024 if sample_rss else None, cpu=cpu)


def canary_run(sb, canary_file, **kw):
    return run_playbook(sb, ROOT / "playbooks" / "canary.yml", extra_vars={"canary_file": str(canary_file)}, **kw)


def write_playbook(workdir, name, tasks, hosts="localhost"):
    path = Path(workdir) / name
    path.write_text(yaml.safe_dump([{
        "name": name, "hosts": hosts, "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "tasks": tasks,
    }], sort_keys=False))
    return path


# --- load and probes ---------------------------------------------------------------------------

class Load:
    """Steady background load through Traefik with `hey`, stopped by PID."""

    def __init__(self, sb, namespace, rps=20, seconds=3600):
        self.proc = PROCS.start(
            ["hey", "-z", "{0}s".format(seconds), "-q", str(max(1, rps // 2)), "-c", "2",
             "-host", host_for(namespace), sb.traefik_url + "/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        PROCS.stop(self.proc)


class Probe:
    """Requests through Traefik from a few threads, recording (time answered, version, status)."""

    def __init__(self, sb, namespace, threads=3, pause=0.0):
        import requests  # the venv has it; imported here so the other figures do not need it

        self._requests = requests
        self.url = sb.traefik_url + "/version"
        self.host = host_for(namespace)
        self.samples = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pause = pause
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        session = self._requests.Session()
        while not self._stop.is_set():
            try:
                resp = session.get(self.url, headers={"Host": self.host}, timeout=5)
                version = resp.headers.get("X-Version") or "?"
                sample = (time.time(), version, resp.status_code)
            except self._requests.RequestException:
                sample = (time.time(), None, 0)
            with self._lock:
                self.samples.append(sample)
            if self._pause:
                self._stop.wait(self._pause)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(10)

    def rate(self, since=None, until=None):
        sel = [s for s in self.samples if (since is None or s[0] >= since) and (until is None or s[0] <= until)]
        if len(sel) < 2:
            return 0.0
        return len(sel) / max(sel[-1][0] - sel[0][0], 1e-9)


def split_through_traefik(sb, namespace, n, threads=4):
    """Counter of the X-Version of n requests sent through Traefik from a few sessions."""
    import requests

    counts = Counter()
    lock = threading.Lock()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def worker(count):
        local = Counter()
        with requests.Session() as session:
            for _ in range(count):
                resp = session.get(sb.traefik_url + "/version", headers={"Host": host_for(namespace)}, timeout=10)
                local[resp.headers.get("X-Version") if resp.status_code == 200 else "HTTP {0}".format(resp.status_code)] += 1
        with lock:
            counts.update(local)

    workers = [threading.Thread(target=worker, args=(c,)) for c in per]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return counts


# --- Prometheus query counter --------------------------------------------------------------------

def prometheus_query_count(sb):
    """Queries Prometheus has answered so far (its own counter, read from /metrics: not a query)."""
    with urllib.request.urlopen(sb.prometheus_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and re.search(r'handler="/api/v1/query(_range)?"', line):
            total += float(line.rsplit(" ", 1)[1])
    return total


class PromSampler:
    """Samples the Prometheus query counter every 0.1 s with the time, to count queries in a window."""

    def __init__(self, sb):
        self.sb = sb
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), prometheus_query_count(self.sb)))
            except OSError:
                pass
            self._stop.wait(0.1)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def count_between(self, start, end):
        before = [v for t, v in self.samples if t <= start]
        after = [v for t, v in self.samples if t >= end]
        if not before or not after:
            return None
        return after[0] - before[-1]


# --- small statistics helpers --------------------------------------------------------------------

def median(values):
    return statistics.median(values) if values else float("nan")


def collection_requests(sb, since_index, start, end):
    """The collection's API requests between two times, from the request log of the sandbox's API
    proxy. Only users' clients go through that proxy (Traefik, the controllers and the kubelet talk
    to kube-apiserver directly), and the log keeps no identity, so the benchmark's own kubectl calls
    as the admin are told apart by their user agent."""
    return [e for e in sb.requests(since=since_index)
            if start <= e["time"] <= end and not e.get("user_agent", "").startswith("kubectl")]


def normalise_path(path):
    """/apis/g/v/namespaces/x/kind/y/status -> /apis/g/v/namespaces/{ns}/kind/{name}/status"""
    parts = path.strip("/").split("/")
    if "namespaces" in parts:
        i = parts.index("namespaces")
        if i + 1 < len(parts):
            parts[i + 1] = "{ns}"
        if i + 3 < len(parts):
            parts[i + 3] = "{name}"
    return "/" + "/".join(parts)
