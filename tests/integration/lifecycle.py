"""Helpers for lifecycle tests: deploy the article's podinfo into a namespace, run playbooks, read events.

The tests drive the real thing: ansible-playbook from the project venv against the sandbox's API,
real Traefik routing requests, real Prometheus scraping Traefik, real `hey` producing load.
"""
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "podinfo"
VENV_BIN = Path(sys.executable).parent
HOST = "app.example.com"


def load_manifests(name, namespace):
    """The example manifests in file(s) `name` (a name or a list) with their namespace replaced."""
    names = [name] if isinstance(name, str) else name
    docs = [d for n in names for d in yaml.safe_load_all((EXAMPLES / n).read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
    return docs


def seed_canary(namespace, **analysis):
    """The article's Canary, re-targeted to `namespace`, with analysis fields overridden for speed."""
    canary = load_manifests("canary.yaml", namespace)[0]
    spec = canary["spec"]
    spec["analysis"].update(analysis)
    for hook in spec["analysis"].get("webhooks", []):
        hook["url"] = hook["url"].replace(".test/", f".{namespace}/")
        cmd = hook["metadata"].get("cmd", "")
        hook["metadata"]["cmd"] = cmd.replace("podinfo-canary.test", f"podinfo-canary.{namespace}")
    return canary


def fast_canary(namespace, *, interval="3s", threshold=2, max_weight=30, step_weight=10,
                metrics=None, webhooks=None, service_name=None, **spec_extra):
    """A Canary shaped like the article's but quick: no load-test webhook (tests bring their own load)."""
    canary = seed_canary(namespace)
    spec = canary["spec"]
    # Generous: real controllers on a busy two-core machine may take a while to roll pods out.
    spec["progressDeadlineSeconds"] = spec_extra.pop("progressDeadlineSeconds", 90)
    spec["analysis"] = {
        "interval": interval,
        "threshold": threshold,
        "maxWeight": max_weight,
        "stepWeight": step_weight,
        "metrics": metrics if metrics is not None else [
            {"name": "request-success-rate", "interval": "15s", "thresholdRange": {"min": 99}},
            {"name": "request-duration", "interval": "15s", "thresholdRange": {"max": 500}},
        ],
        "webhooks": webhooks or [],
    }
    if service_name:
        spec["service"]["name"] = service_name
    spec.update(spec_extra)
    return canary


def install_crds(sandbox):
    """The Canary and MetricTemplate CRDs, as playbooks/install_crds.yml installs them (idempotent)."""
    sandbox.kubectl("apply", "-f", str(ROOT / "crds"))
    for crd in ("canaries.flagger.app", "metrictemplates.flagger.app"):
        sandbox.kubectl("wait", "--for=condition=Established", "crd/" + crd, "--timeout=30s")


def renamed_app(docs, name):
    """The example Deployment and HPA as the app `name` (its own `app` label and HPA target)."""
    for doc in docs:
        doc["metadata"]["name"] = name
        if doc["kind"] == "Deployment":
            doc["metadata"]["labels"]["app"] = name
            doc["spec"]["selector"]["matchLabels"]["app"] = name
            doc["spec"]["template"]["metadata"]["labels"]["app"] = name
        elif doc["kind"] == "HorizontalPodAutoscaler":
            doc["spec"]["scaleTargetRef"]["name"] = name
    return docs


def deploy_podinfo(sandbox, namespace, *, ingress=True, service_name="podinfo", image=None, name="podinfo"):
    """The example app as Deployment `name`, with an IngressRoute to TraefikService `service_name`."""
    install_crds(sandbox)
    docs = load_manifests(["deployment.yaml", "hpa.yaml"], namespace)
    if name != "podinfo":
        renamed_app(docs, name)
    if image:
        docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    route = load_manifests("ingressroute.yaml", namespace)[0]
    route["spec"]["routes"][0]["match"] = f"Host(`{namespace}.{HOST}`)"
    route["spec"]["routes"][0]["services"][0]["name"] = service_name
    if ingress:
        docs.append(route)
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    sandbox.kubectl("-n", namespace, "rollout", "status", f"deployment/{name}", "--timeout=60s")


def deploy_loadtester(sandbox, namespace):
    """Flagger's load tester (the sandbox runs the real one for its image) in `namespace`."""
    docs = load_manifests(["loadtester-deployment.yaml", "loadtester-service.yaml"], namespace)
    sandbox.apply(yaml.safe_dump_all(docs), namespace=namespace)
    sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/flagger-loadtester", "--timeout=60s")


def host_for(namespace):
    return f"{namespace}.{HOST}"


def playbook_env(sandbox, as_admin=False, kubeconfig=None):
    """The environment ansible-playbook runs with. On the real control plane the collection runs
    as the least-privilege ServiceAccount its users apply (rbac/), not as
    the admin; installing CRDs is an administrator's job (`as_admin`). `kubeconfig` runs it as
    someone else."""
    env = dict(os.environ)
    env.update(sandbox.env)
    if kubeconfig:
        env["KUBECONFIG"] = str(kubeconfig)
    elif not as_admin and sandbox.env.get("SANDBOX_COLLECTION_KUBECONFIG"):
        env["KUBECONFIG"] = sandbox.env["SANDBOX_COLLECTION_KUBECONFIG"]
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_STDOUT_CALLBACK"] = "default"
    env["ANSIBLE_LOCALHOST_WARNING"] = "false"
    env["ANSIBLE_INVENTORY_UNPARSED_WARNING"] = "false"
    return env


def write_canary(tmp_path, canary, name="canary.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(canary))
    return path


def run_playbook(sandbox, playbook="canary.yml", *, extra_vars=None, check=False, timeout=300, args=(),
                 as_admin=False, kubeconfig=None):
    cmd = [str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    cmd += list(args)
    return subprocess.run(cmd, env=playbook_env(sandbox, as_admin=as_admin, kubeconfig=kubeconfig),
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)


def start_playbook(sandbox, playbook="canary.yml", *, extra_vars=None, log_path=None):
    cmd = [str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=playbook_env(sandbox), stdout=out, stderr=subprocess.STDOUT,
                            cwd=ROOT, start_new_session=True)


def descendants(pid):
    """Every process below `pid`, read from /proc before anything is killed."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = open(f"/proc/{parent}/task/{task}/children").read().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def kill_release(proc):
    """SIGKILL a started ansible-playbook and everything it started, as a killed job pod would be.

    ansible-core's workers call setsid(), so killing the playbook's process group alone leaves the
    worker and the module it runs alive, still changing the cluster.
    """
    below = descendants(proc.pid)
    for pid in [proc.pid] + below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def recap(output):
    """The PLAY RECAP counters of localhost, e.g. {'ok': 5, 'changed': 0, 'failed': 0}."""
    for line in output.splitlines():
        if line.startswith("localhost") and "ok=" in line:
            return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}
    raise AssertionError("no PLAY RECAP line for localhost in:\n" + output[-3000:])


class Load:
    """Steady load through Traefik with real `hey`, stopped by PID."""

    def __init__(self, sandbox, namespace, rps=20, seconds=300, path="/"):
        self.proc = subprocess.Popen(
            ["hey", "-z", f"{seconds}s", "-q", str(max(1, rps // 2)), "-c", "2",
             "-host", host_for(namespace), sandbox.traefik_url + path],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def versions_through_traefik(sandbox, namespace, n=500):
    """How many of n requests through Traefik each version answered (errors counted by status)."""
    seen = Counter()
    with requests.Session() as session:
        for _request in range(n):
            resp = session.get(sandbox.traefik_url + "/version", headers={"Host": host_for(namespace)},
                               timeout=5)
            seen[resp.json().get("version") if resp.status_code == 200 else f"HTTP {resp.status_code}"] += 1
    return seen


def canary_events(sandbox, namespace, name="podinfo"):
    """Messages of the Events about the Canary, oldest first; an Event that Kubernetes aggregated
    (count > 1, as for a repeated identical Halt) appears as many times as it happened."""
    out = sandbox.kubectl("-n", namespace, "get", "events", "-o", "json").stdout
    items = [e for e in json.loads(out)["items"]
             if e.get("involvedObject", {}).get("kind") == "Canary"
             and e["involvedObject"].get("name") == name]
    items.sort(key=lambda e: (e.get("firstTimestamp") or e["metadata"]["creationTimestamp"],
                              int(e["metadata"]["resourceVersion"])))
    return [e["message"] for e in items for _repeat in range(int(e.get("count") or 1))]


def get_json(sandbox, namespace, *what):
    return json.loads(sandbox.kubectl("-n", namespace, "get", *what, "-o", "json").stdout)


def wait_until(predicate, timeout=30, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def set_image(sandbox, namespace, tag, env=None, deployment="podinfo"):
    sandbox.kubectl("-n", namespace, "set", "image", f"deployment/{deployment}", f"podinfod=stefanprodan/podinfo:{tag}")
    if env:
        sandbox.kubectl("-n", namespace, "set", "env", f"deployment/{deployment}", *[f"{k}={v}" for k, v in env.items()])


# Objects that change by themselves; everything else must keep its resourceVersion.
# Changed by the cluster itself or by other tests on the same sandbox: the node's status, the API
# server's ClusterIP allocations (IPAddress), namespaces other tests delete.
VOLATILE_KINDS = {"Node", "IPAddress", "Namespace"}


def api_kinds(sandbox, namespaced):
    out = sandbox.kubectl("api-resources", "--verbs=list", "--namespaced={0}".format(str(namespaced).lower()),
                          "-o", "name").stdout
    return ",".join(sorted(set(out.split())))


def snapshot(sandbox, kinds, namespaced):
    """{namespace: {kind/name: resourceVersion}} of every object ('' for cluster-scoped ones)."""
    args = ["get", kinds, "-o", "json"] + (["-A"] if namespaced else [])
    items = json.loads(sandbox.kubectl(*args, timeout=120).stdout)["items"]
    seen = {}
    for item in items:
        meta = item["metadata"]
        group = item.get("apiVersion", "").split("/")[0] if "/" in item.get("apiVersion", "") else ""
        key = "{0}.{1}/{2}".format(item["kind"], group, meta["name"])
        seen.setdefault(meta.get("namespace", ""), {})[key] = meta.get("resourceVersion")
    return seen


def settled_snapshot(sandbox, kinds, namespaces, timeout=60):
    """A snapshot once the controllers are done with the new namespaces: Kubernetes' own create a
    ReplicaSet, a ServiceAccount and a root CA ConfigMap, and write the Deployments' status, a
    moment after the objects are applied; those are not the run's changes."""
    def ours(seen):
        return {ns: objects for ns, objects in seen.items() if ns in namespaces}

    deadline = time.monotonic() + timeout
    previous = snapshot(sandbox, kinds, True)
    while True:
        time.sleep(1.0)
        current = snapshot(sandbox, kinds, True)
        if ours(current) == ours(previous) or time.monotonic() > deadline:
            return current
        previous = current


def diff(before, after):
    changes = []
    for key in sorted(set(before) | set(after)):
        if key.split("/")[0].split(".")[0] in VOLATILE_KINDS:
            continue
        if before.get(key) != after.get(key):
            what = "created" if key not in before else "deleted" if key not in after else "changed"
            changes.append("{0} {1}".format(key, what))
    return changes
