#!/usr/bin/env python3
"""`make compare`: Flagger's controller and the role release the same app side by side.

One sandbox; Flagger (built from the pinned release) watches namespace compare-flagger, the role
runs in compare-role; both get the same Canary (Traefik provider, same interval, steps, threshold,
metrics and webhooks to the real load tester), the same app and the same load. It prints
conformance (objects, Canary status, events), speed and cost side by side, and writes the tables
into docs/flagger-compatibility.md and docs/performance.md between markers.

    .venv/bin/python scripts/compare/run.py --env SANDBOX_DIR/env [--no-doc]
"""
import argparse
import datetime
import http.server
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "bench"))

import bridge  # noqa: E402
import common  # noqa: E402  (scripts/bench: child processes, playbook runs, the probe)
import normalise as nm  # noqa: E402
import yaml  # noqa: E402
from pdtest.apps import create_namespace, deploy_loadtester, deploy_podinfo, install_crds  # noqa: E402
from pdtest.manifests import builtin_metrics, host_for, seed_canary  # noqa: E402

FLAGGER_NS = "compare-flagger"
ROLE_NS = "compare-role"
SIDES = (("flagger", FLAGGER_NS), ("role", ROLE_NS))
GOOD, BAD = "4.0.6", "4.0.7"
# Flagger raises an interval below 10 s to 10 s: the same interval for both sides is 10 s.
INTERVAL, STEP, MAX_WEIGHT, THRESHOLD = "10s", 20, 60, 3
FLAGGER_MODULE = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod") / "github.com" / "fluxcd"
DOC_COMPAT = common.ROOT / "docs" / "flagger-compatibility.md"
DOC_PERF = common.ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- compare:begin (written by make compare) -->", "<!-- compare:end -->"
AIMS = [  # part 5 of the issue: (name, key in the results, aim, how the measured value compares)
    ("rollback reaction, ours / Flagger's", "rollback_ratio", 1.0),
    ("wall time to promote, ours / Flagger's", "promote_ratio", 1.05),
    ("API requests per step inside the step loop, ours", "role_api_per_step", 4.0),
    ("Prometheus queries per metric per step inside the step loop, ours", "role_prom_per_metric_step", 1.0),
]


def log(msg):
    print(msg, flush=True)


def flagger_version():
    gomod = (common.ROOT / "tests" / "sandbox" / "flagger" / "go.mod").read_text().split()
    return gomod[gomod.index("github.com/fluxcd/flagger") + 1]


def the_canary(namespace):
    """The article's Canary (examples/podinfo), shorter: interval 10 s, stepWeight 20 to 60, threshold 3,
    the two built-in metrics over 15 s, its acceptance test and load test to this namespace's load tester."""
    doc = seed_canary(namespace, interval=INTERVAL, threshold=THRESHOLD, maxWeight=MAX_WEIGHT, stepWeight=STEP,
                      metrics=builtin_metrics("15s"))
    spec = doc["spec"]
    spec["progressDeadlineSeconds"] = 90
    spec["autoscalerRef"]["apiVersion"] = "autoscaling/v2"  # v2beta2 is gone from Kubernetes 1.26 on
    for hook in spec["analysis"]["webhooks"]:
        cmd = hook["metadata"]["cmd"]
        hook["metadata"]["cmd"] = cmd.replace("app.example.com", host_for(namespace))
    return doc


# --- a counting proxy in front of Prometheus, one per side ----------------------------------------

class PromProxy:
    """Forwards to Prometheus and records (time, path, query) of every request."""

    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.calls = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_args):
                pass

            def _forward(self, body=None):
                parsed = urllib.parse.urlsplit(self.path)
                params = urllib.parse.parse_qs(parsed.query)
                if body:
                    params.update(urllib.parse.parse_qs(body.decode()))
                proxy.calls.append((time.time(), parsed.path, (params.get("query") or [""])[0]))
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method=self.command,
                                             headers={k: v for k, v in self.headers.items()
                                                      if k.lower() in ("content-type", "accept")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        status, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
                except urllib.error.HTTPError as err:
                    status, data, ctype = err.code, err.read(), err.headers.get("Content-Type", "")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._forward()

            def do_POST(self):  # noqa: N802
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:{0}".format(self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def queries(self, start, end):
        return [c for c in self.calls if start <= c[0] <= end and c[1].startswith("/api/v1/query")]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- Flagger's controller ----------------------------------------------------------------------

class Flagger:
    """Flagger's controller as a process in a network namespace with only loopback, reaching the
    API proxy, its Prometheus proxy and the load tester through bridge.py; stopped by its PID."""

    def __init__(self, sb, workdir, bin_dir, prom):
        self.sb, self.workdir, self.bin_dir, self.prom = sb, Path(workdir), Path(bin_dir), prom
        self.proc = None
        self.listeners = []
        self.log_path = self.workdir / "flagger.log"

    def setup_rbac(self):
        """Flagger's own ServiceAccount and ClusterRole (from its release), bound in its namespace."""
        account = self.flagger_dir() / "artifacts" / "flagger" / "account.yaml"
        docs = [d for d in yaml.safe_load_all(account.read_text()) if d]
        for doc in docs:
            if doc["kind"] == "ServiceAccount":
                doc["metadata"]["namespace"] = FLAGGER_NS
            for subject in doc.get("subjects") or []:
                subject["namespace"] = FLAGGER_NS
        self.sb.apply(yaml.safe_dump_all(docs))
        token = self.sb.kubectl("-n", FLAGGER_NS, "create", "token", "flagger", "--duration=3h").stdout.strip()
        proxy = yaml.safe_load(Path(self.sb.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
        self.api = urllib.parse.urlsplit(proxy)
        kubeconfig = self.workdir / "flagger-kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "flagger",
            "clusters": [{"name": "sandbox", "cluster": {"server": proxy}}],
            "users": [{"name": "flagger", "user": {"token": token}}],
            "contexts": [{"name": "flagger", "context": {"cluster": "sandbox", "user": "flagger"}}]}))
        kubeconfig.chmod(0o600)
        self.kubeconfig = kubeconfig

    @staticmethod
    def flagger_dir():
        return FLAGGER_MODULE / "flagger@{0}".format(flagger_version())

    def start(self):
        sock = self.workdir / "sockets"
        sock.mkdir(exist_ok=True)
        loadtester_ip = self.sb.kubectl("-n", FLAGGER_NS, "get", "service", "flagger-loadtester",
                                        "-o", "jsonpath={.spec.clusterIP}").stdout.strip()
        api_port = self.api.port
        # host side: Unix socket -> real address
        self.listeners = bridge.host_side([
            (str(sock / "api"), self.api.hostname, api_port),
            (str(sock / "prom"), "127.0.0.1", self.prom.port),
            (str(sock / "loadtester"), loadtester_ip, 80)])
        hosts = self.workdir / "flagger-hosts"
        hosts.write_text("127.0.0.1 localhost\n127.0.0.2 " + " ".join(
            "flagger-loadtester.{0}{1}".format(FLAGGER_NS, s) for s in ("", ".svc", ".svc.cluster.local")) + "\n")
        ready = self.workdir / "bridge-ready"
        inside = [sys.executable, str(HERE / "bridge.py"), "--ready", str(ready),
                  "127.0.0.1:{0}={1}".format(api_port, sock / "api"),
                  "127.0.0.1:{0}={1}".format(self.prom.port, sock / "prom"),
                  "127.0.0.2:80={0}".format(sock / "loadtester")]
        flagger = [str(self.bin_dir / "flagger"), "-kubeconfig", str(self.kubeconfig), "-mesh-provider=traefik",
                   "-metrics-server", self.prom.url, "-namespace", FLAGGER_NS, "-log-level", "info"]
        script = ("ip link set lo up && mount --bind {hosts} /etc/hosts && {{ {inside} & }} && "
                  "while [ ! -e {ready} ]; do sleep 0.05; done && exec {flagger}").format(
            hosts=shlex.quote(str(hosts)), inside=" ".join(map(shlex.quote, inside)),
            ready=shlex.quote(str(ready)), flagger=" ".join(map(shlex.quote, flagger)))
        self.log_file = open(self.log_path, "w")
        self.proc = common.PROCS.start(["unshare", "--net", "--mount", "sh", "-c", script],
                                       stdout=self.log_file, stderr=subprocess.STDOUT)
        return self

    def cpu_seconds(self):
        """User + system CPU seconds of the controller process so far."""
        with open("/proc/{0}/stat".format(self.proc.pid)) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss(self):
        """Its peak resident memory so far (VmHWM), bytes."""
        with open("/proc/{0}/status".format(self.proc.pid)) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        return None

    def stop(self):
        if self.proc is not None:
            common.PROCS.stop(self.proc)
            # the bridge inside is in the same process group; it outlives a controller that exited
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.log_file.close()
        for listener in self.listeners:
            listener.close()


# --- reading the cluster without going through the API proxy ---------------------------------------

class Watcher(common.Poller):
    """Polls both Canaries and TraefikServices every 0.2 s with the direct kubeconfig (so its reads
    are not counted), recording the first time each condition held."""

    def __init__(self, sb):
        from kubernetes import client, config

        super().__init__()
        api_client = config.new_client_from_config(str(sb.dir / "kubeconfig-direct"))
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.samples = {side: [] for side, _ns in SIDES}
        # Events as they happen: an Event the client aggregated (count > 1, or Flagger's "combined
        # from similar events") is read again every poll, so each occurrence is seen with its message.
        self.events = {side: [] for side, _ns in SIDES}
        self._counts = {}

    def read(self, namespace):
        canary = self.custom.get_namespaced_custom_object("flagger.app", "v1beta1", namespace, "canaries", "podinfo")
        try:
            ts = self.custom.get_namespaced_custom_object("traefik.io", "v1alpha1", namespace, "traefikservices",
                                                          "podinfo")
            services = ts["spec"]["weighted"]["services"]
            canary_weight = sum(s.get("weight", 0) for s in services if s["name"].endswith("-canary"))
        except Exception:  # not created yet
            canary_weight = None
        return (canary.get("status") or {}).get("phase"), canary_weight

    def read_events(self, side, namespace):
        found = self.core.list_namespaced_event(namespace, field_selector="involvedObject.kind=Canary").items
        found.sort(key=lambda e: (e.last_timestamp or e.event_time or e.metadata.creation_timestamp,
                                  int(e.metadata.resource_version)))
        now = time.time()
        for event in found:
            key = event.metadata.uid
            count = event.count or 1
            for _ in range(count - self._counts.get(key, 0)):
                self.events[side].append((now, event.message))
            self._counts[key] = max(count, self._counts.get(key, 0))

    def _run(self):
        while not self._stop.is_set():
            for side, ns in SIDES:
                try:
                    phase, weight = self.read(ns)
                    self.samples[side].append((time.time(), phase, weight))
                    self.read_events(side, ns)
                except Exception:  # a transient API error: the next poll
                    pass
            self._stop.wait(0.2)

    def messages(self, side, start, end):
        ns = dict(SIDES)[side]
        return [nm.normalise_event(m, ns, host_for(ns)) for t, m in self.events[side] if start <= t <= end]

    def first(self, side, since, predicate):
        for t, phase, weight in self.samples[side]:
            if t >= since and predicate(phase, weight):
                return t
        return None

    def wait(self, side, since, predicate, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.first(side, since, predicate)
            if t:
                return t
            time.sleep(0.2)
        raise RuntimeError("{0}: timed out after {1}s waiting for {2}".format(side, timeout, what))


# --- conformance ---------------------------------------------------------------------------------

OBJECTS = [("deployment", "podinfo"), ("deployment", "podinfo-primary"), ("service", "podinfo"),
           ("service", "podinfo-primary"), ("service", "podinfo-canary"), ("hpa", "podinfo-primary"),
           ("traefikservices.traefik.io", "podinfo")]


def snapshot(sb, watcher, start):
    out = {}
    for side, ns in SIDES:
        objs = {}
        for kind, name in OBJECTS:
            got = sb.kubectl("-n", ns, "get", kind, name, "-o", "json", check=False)
            objs["{0}/{1}".format(kind.split(".")[0], name)] = (
                nm.normalise_object(json.loads(got.stdout), ns, host_for(ns)) if got.returncode == 0 else None)
        canary = json.loads(sb.kubectl("-n", ns, "get", "canary", "podinfo", "-o", "json").stdout)
        out[side] = {"objects": objs, "status": nm.status_fields(canary),
                     "events": watcher.messages(side, start, time.time())}
    return out


def conformance_text(title, snap):
    lines = ["#### {0}".format(title), "", "Objects, field by field (only the differing fields; `{ns}` stands "
             "for each side's namespace):", "", "| object | field | Flagger | role |", "|---|---|---|---|"]
    same = []
    for key in (k for k in snap["flagger"]["objects"]):
        a, b = snap["flagger"]["objects"][key], snap["role"]["objects"][key]
        if a is None or b is None:
            lines.append("| {0} | (whole object) | {1} | {2} |".format(
                key, "absent" if a is None else "present", "absent" if b is None else "present"))
            continue
        rows = nm.diff(a, b)
        if not rows:
            same.append(key)
        for path, va, vb in rows:
            lines.append("| {0} | `{1}` | {2} | {3} |".format(key, path, cell(va), cell(vb)))
    lines += ["", "Identical: {0}.".format(", ".join(same) or "none"), ""]
    lines += ["Canary status:", "", "| field | Flagger | role |", "|---|---|---|"]
    fa, fb = nm.flatten(snap["flagger"]["status"]), nm.flatten(snap["role"]["status"])
    for path in sorted(set(fa) | set(fb)):
        va, vb = fa.get(path, nm.MISSING), fb.get(path, nm.MISSING)
        lines.append("| `{0}` | {1} | {2} |{3}".format(path, cell(va), cell(vb), "" if va == vb else " ≠"))
    lines += ["", "Events (in order; repeats collapsed; numbers as N):", "", "| # | Flagger | role |", "|---|---|---|"]
    ea = nm.collapse_repeats(snap["flagger"]["events"])
    eb = nm.collapse_repeats(snap["role"]["events"])
    for i in range(max(len(ea), len(eb))):
        lines.append("| {0} | {1} | {2} |".format(i + 1, cell(ea[i] if i < len(ea) else ""),
                                                  cell(eb[i] if i < len(eb) else "")))
    return "\n".join(lines) + "\n"


def cell(value):
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= 120 else text[:117] + "…"


# --- the run -------------------------------------------------------------------------------------

def patch_image(sb, namespace, tag, env=None):
    """One revision: the image, and ``env`` on the container, in one patch."""
    container = {"name": "podinfod", "image": "stefanprodan/podinfo:" + tag}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    patch = {"spec": {"template": {"spec": {"containers": [container]}}}}
    sb.kubectl("-n", namespace, "patch", "deployment", "podinfo", "--type=strategic", "-p", json.dumps(patch))


def api_requests(sb, since, start, end):
    """The API proxy's log entries in [start, end], by side (Flagger by its user agent; kubectl left out)."""
    out = {"flagger": [], "role": []}
    for e in sb.requests(since=since):
        if not start <= e["time"] <= end:
            continue
        agent = e.get("user_agent", "")
        if agent.startswith("kubectl"):
            continue
        out["flagger" if agent.startswith("flagger") else "role"].append(e)
    return out


def role_run(sb, prom, results, key, **kw):
    def target():
        try:
            results[key] = common.run_playbook(sb, "canary.yml", extra_vars={
                "canary_name": "podinfo", "canary_namespace": ROLE_NS}, env_extra={"PROMETHEUS_URL": prom.url},
                sample_rss=True, **kw)
        except Exception as exc:  # reported by the caller
            results[key + "_error"] = repr(exc)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def release(sb, watcher, proms, flagger, tag, env, expect, log_index):
    """Both sides release ``tag``: the figures of one release."""
    runs = {}
    cpu_before = flagger.cpu_seconds()
    start = {}
    start["flagger"] = time.time()
    patch_image(sb, FLAGGER_NS, tag, env)
    start["role"] = time.time()
    patch_image(sb, ROLE_NS, tag, env)
    thread = role_run(sb, proms["role"], runs, "run", timeout=600)
    done = {}
    for side, _ns in SIDES:
        # the phase of the release before is still there until the side notices the new revision
        moving = watcher.wait(side, start[side], lambda p, w: p not in ("Initialized", "Succeeded", "Failed"),
                              180, "the release to start")
        done[side] = watcher.wait(side, moving, lambda p, w: p in ("Succeeded", "Failed"), 400,
                                  "the release to end")
    thread.join(600)
    end = max(done.values()) + 0.5
    flagger_cpu = flagger.cpu_seconds() - cpu_before
    run = runs.get("run")
    if run is None:
        raise RuntimeError("the role's run did not finish: " + runs.get("run_error", "?"))
    out = {"start": start, "done": done, "run_rc": run.rc, "run_wall": run.wall}
    for side, _ns in SIDES:
        out[side + "_phase"] = [p for t, p, w in watcher.samples[side] if t >= done[side]][0]
        out[side + "_wall"] = done[side] - start[side]
        shift = watcher.first(side, start[side], lambda p, w: (w or 0) > 0)
        out[side + "_first_shift"] = None if shift is None else shift - start[side]
        top = watcher.first(side, start[side], lambda p, w: (w or 0) >= MAX_WEIGHT)
        out[side + "_max_weight_at"] = top
        out[side + "_shift_at"] = shift
    reqs = api_requests(sb, log_index, min(start.values()), end)
    for side, _ns in SIDES:
        # inside the step loop: from the first weight shift to maxWeight, (steps - 1) intervals
        first, top = out[side + "_shift_at"], out[side + "_max_weight_at"]
        loop_steps = len({w for t, p, w in watcher.samples[side] if first and top and first <= t <= top and w}) - 1
        if first and top and loop_steps > 0:
            in_loop = [e for e in reqs[side] if first <= e["time"] <= top]
            out[side + "_loop_api_per_step"] = len(in_loop) / loop_steps
            out[side + "_loop_prom_per_metric_step"] = len(proms[side].queries(first, top)) / (loop_steps * 2)
            out[side + "_loop_steps"] = loop_steps
        else:
            out[side + "_loop_api_per_step"] = out[side + "_loop_prom_per_metric_step"] = None
        steps = out[side + "_steps"] = len({w for t, p, w in watcher.samples[side]
                                            if start[side] <= t <= done[side] and w})
        out[side + "_api_total"] = len(reqs[side])
        out[side + "_api_per_step"] = len(reqs[side]) / steps if steps else None
        out[side + "_api_paths"] = Counter("{0} {1}".format(e["verb"], common.normalise_path(e["path"]))
                                           for e in reqs[side]).most_common(12)
        out[side + "_agents"] = Counter(e.get("user_agent", "") for e in reqs[side]).most_common(3)
        queries = proms[side].queries(start[side], done[side])
        out[side + "_prom_total"] = len(queries)
        out[side + "_prom_per_metric_step"] = len(queries) / (steps * 2) if steps else None
    out["flagger_cpu"] = flagger_cpu
    out["role_cpu"] = run.cpu
    out["role_peak_rss"] = run.peak_rss
    out["role_slowest_tasks"] = sorted(((round(e - s, 1), name) for name, _a, s, e, _h, _p in run.tasks()),
                                       reverse=True)[:8]
    out["flagger_peak_rss"] = flagger.peak_rss()
    if expect == "Failed" and run.rc == 0:
        raise RuntimeError("the role's run of the failing revision succeeded")
    if expect == "Succeeded" and run.rc != 0:
        raise RuntimeError("the role's release failed: " + run.failure())
    return out


def rollback_reaction(probe, bad_version):
    """First failing answer through Traefik -> last answer of the failing revision (0 % canary)."""
    fails = [s[0] for s in probe.samples if s[2] >= 500]  # only the failing revision answers 500
    canary = [s[0] for s in probe.samples if s[1] == bad_version]
    if not fails or not canary:
        return None
    return max(canary) - min(fails)


def measure(sb, workdir):
    results = {"version": flagger_version()}
    bin_dir = subprocess.run(["bash", str(common.ROOT / "scripts" / "build_flagger.sh")], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    install_crds(sb)
    proms = {side: PromProxy(sb.prometheus_url) for side, _ns in SIDES}
    flagger = Flagger(sb, workdir, bin_dir, proms["flagger"])
    watcher = None
    try:
        for _side, ns in SIDES:
            create_namespace(sb, ns)
            deploy_podinfo(sb, ns, image="stefanprodan/podinfo:4.0.5", crds=False, wait=90)
            deploy_loadtester(sb, ns)
        flagger.setup_rbac()
        for _side, ns in SIDES:
            sb.apply(json.dumps(the_canary(ns)), namespace=ns)
        log("starting Flagger {0} (namespace {1}) and the role's first run (namespace {2})".format(
            results["version"], FLAGGER_NS, ROLE_NS))
        flagger.start()
        watcher = Watcher(sb).start()
        t0 = time.time()
        runs = {}
        role_run(sb, proms["role"], runs, "init", timeout=300).join(320)
        if not runs.get("init") or runs["init"].rc != 0:
            raise RuntimeError("the role's initialising run failed: " + (
                runs["init"].failure() if runs.get("init") else runs.get("init_error", "?")))
        for side, _ns in SIDES:
            watcher.wait(side, t0, lambda p, w: p == "Initialized", 180, "Initialized")
        time.sleep(1)
        results["init"] = snapshot(sb, watcher, t0)
        log("initialised; promoting {0} on both sides".format(GOOD))
        t1 = time.time()
        results["promotion"] = release(sb, watcher, proms, flagger, GOOD, None, "Succeeded", sb.last_request_index())
        time.sleep(2)
        results["promoted"] = snapshot(sb, watcher, t1)
        log("promoted (Flagger {0:.1f}s, role {1:.1f}s); releasing the failing {2}".format(
            results["promotion"]["flagger_wall"], results["promotion"]["role_wall"], BAD))
        t2 = time.time()
        probes = {side: common.Probe(sb, ns, threads=3).start() for side, ns in SIDES}
        try:
            results["rollback"] = release(sb, watcher, proms, flagger, BAD, {"SANDBOX_FAIL_RATE": "0.5"}, "Failed",
                                          sb.last_request_index())
            time.sleep(3)
        finally:
            for probe in probes.values():
                probe.stop()
        for side, _ns in SIDES:
            results["rollback"][side + "_reaction"] = rollback_reaction(probes[side], BAD)
        results["rolled_back"] = snapshot(sb, watcher, t2)
    finally:
        if watcher:
            watcher.stop()
        flagger.stop()
        for prom in proms.values():
            prom.close()
    return results


# --- the report ----------------------------------------------------------------------------------

def fmt(value, spec="{0:.2f}"):
    return "n/a" if value is None else spec.format(value)


def figures(results):
    p, r = results["promotion"], results["rollback"]
    results["promote_ratio"] = nm.ratio(p["role_wall"], p["flagger_wall"])
    results["rollback_ratio"] = nm.ratio(r.get("role_reaction"), r.get("flagger_reaction"))
    results["role_api_per_step"] = p["role_loop_api_per_step"]
    results["role_prom_per_metric_step"] = p["role_loop_prom_per_metric_step"]
    mib = 2 ** 20
    rows = [
        ("wall time, `kubectl set image` → Succeeded (s)", p["flagger_wall"], p["role_wall"], "{0:.1f}"),
        ("revision change → first weight shift (s)", p["flagger_first_shift"], p["role_first_shift"], "{0:.1f}"),
        ("rollback reaction: first failing request → 0 % canary through Traefik (s)",
         r.get("flagger_reaction"), r.get("role_reaction"), "{0:.2f}"),
        ("failing revision: `kubectl set image` → Failed (s)", r["flagger_wall"], r["role_wall"], "{0:.1f}"),
        ("weight steps seen (promotion)", p["flagger_steps"], p["role_steps"], "{0}"),
        ("API requests, whole promotion", p["flagger_api_total"], p["role_api_total"], "{0}"),
        ("API requests per step (whole promotion / steps)", p["flagger_api_per_step"], p["role_api_per_step"],
         "{0:.1f}"),
        ("API requests per step inside the step loop", p["flagger_loop_api_per_step"],
         p["role_loop_api_per_step"], "{0:.1f}"),
        ("Prometheus queries, whole promotion", p["flagger_prom_total"], p["role_prom_total"], "{0}"),
        ("Prometheus queries per metric per step (whole promotion / steps)", p["flagger_prom_per_metric_step"],
         p["role_prom_per_metric_step"], "{0:.2f}"),
        ("Prometheus queries per metric per step inside the step loop", p["flagger_loop_prom_per_metric_step"],
         p["role_loop_prom_per_metric_step"], "{0:.2f}"),
        ("CPU seconds, promotion", p["flagger_cpu"], p["role_cpu"], "{0:.1f}"),
        ("CPU seconds, rollback", r["flagger_cpu"], r["role_cpu"], "{0:.1f}"),
        ("peak memory (MiB; Flagger: process lifetime, role: ansible-playbook tree)",
         (r["flagger_peak_rss"] or 0) / mib, max(p["role_peak_rss"] or 0, r["role_peak_rss"] or 0) / mib, "{0:.0f}"),
    ]
    lines = ["| figure | Flagger {0} | role | role / Flagger |".format(results["version"]), "|---|---|---|---|"]
    for name, a, b, spec in rows:
        lines.append("| {0} | {1} | {2} | {3} |".format(name, fmt(a, spec), fmt(b, spec),
                                                        fmt(nm.ratio(b, a), "{0:.2f}")))
    aims = ["| aim (issue 11, part 5) | measured | aim | measured / aim |", "|---|---|---|---|"]
    for name, key, aim in AIMS:
        value = results.get(key)
        aims.append("| {0} | {1} | ≤ {2} | {3} |".format(name, fmt(value), aim,
                                                          fmt(None if value is None else value / aim)))
    return "\n".join(lines), "\n".join(aims)


def cost_details(results):
    p = results["promotion"]
    out = ["The role's slowest tasks in the promoted release (s): " + "; ".join(
        "{0} {1}".format(name.replace("|", "/"), sec) for sec, name in p["role_slowest_tasks"]) + ".", ""]
    for side in ("flagger", "role"):
        out.append("API requests of the {0} in the promotion by verb and path (user agents: {1}):\n".format(
            "Flagger controller" if side == "flagger" else "role", ", ".join(
                "`{0}` {1}".format(a[:60], n) for a, n in p[side + "_agents"])))
        out.append("| request | count |\n|---|---|")
        out += ["| `{0}` | {1} |".format(k, n) for k, n in p[side + "_api_paths"]]
        out.append("")
    return "\n".join(out)


def report(results, command, info):
    table, aims = figures(results)
    conf = [conformance_text("After initialisation", results["init"]),
            conformance_text("After the promoted release", results["promoted"]),
            conformance_text("After the rolled-back release", results["rolled_back"])]
    head = ("Measured by `{0}` on {1}: Flagger {2}'s controller (namespace `{3}`, `-mesh-provider=traefik`) "
            "and the role (namespace `{4}`) in one sandbox, the same Canary (interval {5}, stepWeight {6} to "
            "maxWeight {7}, threshold {8}, the two built-in metrics, the article's acceptance and load-test "
            "webhooks to the real load tester), the same app and load. Machine: {9}.").format(
        command, info["date"], results["version"], FLAGGER_NS, ROLE_NS, INTERVAL, STEP, MAX_WEIGHT, THRESHOLD,
        info["machine"])
    return table, aims, head, "\n".join(conf), cost_details(results)


def write_docs(table, aims, head, conf, cost):
    compat = DOC_COMPAT.read_text()
    body = "\n\n".join([head, "### Speed and cost", table, "### Aims", aims, "### Conformance", conf,
                        "### Cost by request", cost])
    if "## Side by side with Flagger" not in compat:
        compat = compat.rstrip("\n") + "\n\n## Side by side with Flagger\n\n" + BEGIN + "\n" + END + "\n"
    DOC_COMPAT.write_text(nm.replace_between_markers(compat, BEGIN, END, body))
    perf = DOC_PERF.read_text()
    body = "\n\n".join(["## Side by side with Flagger (`make compare`)", head, table, aims,
                        "Conformance tables: docs/flagger-compatibility.md, \"Side by side with Flagger\"."])
    DOC_PERF.write_text(nm.replace_between_markers(perf, BEGIN, END, body))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="the sandbox's env file")
    parser.add_argument("--command", default=os.environ.get("COMPARE_COMMAND", "make compare"))
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sb = common.sandbox_from_env_file(args.env)
    info = common_info()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="pd-compare-") as workdir:
            try:
                results = measure(sb, workdir)
            except Exception:
                traceback.print_exc()
                log_tail(Path(workdir) / "flagger.log")
                return 1
    finally:
        common.PROCS.stop_all()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    table, aims, head, conf, cost = report(results, args.command, info)
    print("\n" + head + "\n\n" + table + "\n\n" + aims + "\n\n" + conf + "\n" + cost)
    print("({0:.0f} s)".format(time.monotonic() - started))
    if not args.no_doc:
        write_docs(table, aims, head, conf, cost)
        print("wrote docs/flagger-compatibility.md and docs/performance.md")
    return 0


def log_tail(path, lines=30):
    try:
        print("--- last lines of Flagger's log ---\n" + "\n".join(path.read_text().splitlines()[-lines:]))
    except OSError:
        pass


def common_info():
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return {"date": date, "machine": "{0} CPUs, load average {1}".format(
        os.cpu_count(), " ".join("{0:.2f}".format(v) for v in os.getloadavg()))}


if __name__ == "__main__":
    sys.exit(main())
