"""Shared plumbing of the benchmark: the sandbox, child processes, playbook runs, load and probes.

Every process the benchmark starts is registered here and stopped by its PID (process group)
when the benchmark ends, also on an error or a signal.
"""
import datetime
import json
import os
import resource
import signal
import statistics
import subprocess
import threading
import time
from pathlib import Path

from pdtest.apps import create_namespace
from pdtest.apps import deploy_podinfo as deploy_app
from pdtest.apps import set_image  # noqa: F401  (the figures import it from here)
from pdtest.checkout import ROOT, VENV_BIN  # noqa: F401
from pdtest.load import Load as _Load
from pdtest.load import versions_through_traefik
from pdtest.manifests import analysis, canary, host_for, write_canary as write_manifest  # noqa: F401
from pdtest.playbooks import ansible_env as _ansible_env
from pdtest.playbooks import playbook_command, write_play
from pdtest.sandbox import Sandbox, prometheus_query_count as _prometheus_query_count


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
    """Releases run as the least-privilege ServiceAccount of rbac/, as users run them (AWX, CI);
    kubectl (setting up the apps, changing images) stays the sandbox's admin."""
    return _ansible_env(sb, callback="ansible.posix.json", ANSIBLE_DEPRECATION_WARNINGS="false",
                        ANSIBLE_RETRY_FILES_ENABLED="false", **extra)


def kubectl(sb, *args, input=None, check=True):
    return sb.kubectl(*args, input=input, check=check, timeout=120)


def deploy_podinfo(sb, namespace, image_tag="4.0.5"):
    """The article's podinfo Deployment + HPA and an IngressRoute for <namespace>.app.example.com."""
    create_namespace(sb, namespace)
    deploy_app(sb, namespace, image="stefanprodan/podinfo:" + image_tag, crds=False, wait=0)


def wait_rollout(sb, namespace, name="podinfo", timeout=90):
    sb.wait_for_rollout(namespace, name, timeout=timeout)


def canary_manifest(namespace, interval="2s", step_weight=5, max_weight=50, threshold=2,
                    metric_interval="15s", step_weights=None):
    """The article's Canary with a short interval and without webhooks (the benchmark brings the load)."""
    return canary(namespace, analysis(interval=interval, threshold=threshold, max_weight=max_weight,
                                      step_weight=step_weight, step_weights=step_weights,
                                      metric_interval=metric_interval),
                  autoscaler="autoscaling/v2")


def write_canary(workdir, namespace, **kw):
    return write_manifest(workdir, canary_manifest(namespace, **kw), name="canary-{0}.yaml".format(namespace))


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
    cmd = playbook_command(playbook, extra_vars=extra_vars, inventory=inventory)
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
    return run_playbook(sb, "canary.yml", extra_vars={"canary_file": str(canary_file)}, **kw)


def write_playbook(workdir, name, tasks, hosts="localhost"):
    return write_play(Path(workdir) / name, tasks, name=name, hosts=hosts)


# --- load and probes ---------------------------------------------------------------------------

class Load(_Load):
    """Steady background load through Traefik with `hey`, registered with PROCS and stopped by PID."""

    def __init__(self, sb, namespace, rps=20, seconds=3600):
        super().__init__(sb, namespace, rps=rps, seconds=seconds, start=PROCS.start)

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
    """Counter of the versions answering n requests sent through Traefik from a few sessions."""
    return versions_through_traefik(sb, namespace, n, threads=threads, timeout=10)


# --- Prometheus query counter --------------------------------------------------------------------

def prometheus_query_count(sb, with_range=True):
    """Queries Prometheus has answered so far, instant and range ones (only instant ones without
    ``with_range``)."""
    return _prometheus_query_count(sb, with_range=with_range)


class Poller:
    """A daemon thread running ``_run`` (which returns once ``_stop`` is set) between start and stop."""

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        raise NotImplementedError

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)


class PromSampler(Poller):
    """Samples the Prometheus query counter every 0.1 s with the time, to count queries in a window."""

    def __init__(self, sb, counter=None):
        super().__init__()
        self.sb = sb
        self.counter = counter or prometheus_query_count
        self.samples = []

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self.counter(self.sb)))
            except OSError:
                pass
            self._stop.wait(0.1)

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
