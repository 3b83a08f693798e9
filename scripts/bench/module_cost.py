"""Figure 2: canary_weight against kubernetes.core.k8s applying the same weight change as a merge
patch. Same playbook shape (one play, three weight changes), runs alternated."""
import yaml

from common import kubectl, median, run_playbook, write_playbook
from pdtest.manifests import traefik_service

NAMESPACE = "bench-module"
RUNS = 7
WEIGHTS = (10, 20, 30)


def floor_tasks():
    """The same two tasks first in every playbook: what any module start costs (ping) and what a
    module that builds a Kubernetes client and reads one object costs (k8s_info)."""
    return [
        {"name": "floor ping", "ansible.builtin.ping": {}},
        {"name": "floor k8s_info", "kubernetes.core.k8s_info": {
            "api_version": "traefik.io/v1alpha1", "kind": "TraefikService", "name": "podinfo",
            "namespace": NAMESPACE}},
    ]


def weight_tasks(kind, offset):
    tasks = floor_tasks()
    for w in WEIGHTS:
        w = w + offset
        if kind == "canary_weight":
            tasks.append({"name": "weight {0}".format(w), "progressive.delivery.canary_weight": {
                "name": "podinfo", "namespace": NAMESPACE, "port": 80, "weight": w}})
        else:
            tasks.append({"name": "weight {0}".format(w), "kubernetes.core.k8s": {
                "api_version": "traefik.io/v1alpha1", "kind": "TraefikService", "name": "podinfo",
                "namespace": NAMESPACE, "state": "patched", "merge_type": "merge",
                "definition": {"spec": {"weighted": {"services": [
                    {"name": "podinfo-primary", "port": 80, "weight": 100 - w},
                    {"name": "podinfo-canary", "port": 80, "weight": w}]}}}}})
    return tasks


def measure(sb, workdir, log):
    kubectl(sb, "create", "namespace", NAMESPACE, check=False)
    # the primary and canary Services the TraefikService names (no canary pods needed for a write)
    for svc in ("podinfo-primary", "podinfo-canary"):
        kubectl(sb, "-n", NAMESPACE, "create", "service", "clusterip", svc, "--tcp=80:9898", check=False)
    sb.apply(yaml.safe_dump(traefik_service("traefik.io/v1alpha1", {"podinfo-primary": 100, "podinfo-canary": 0})),
             namespace=NAMESPACE)
    samples = {"canary_weight": {"task": [], "wall": [], "cpu": []}, "k8s": {"task": [], "wall": [], "cpu": []}}
    failures = []
    floors = {}
    for i in range(RUNS):
        order = ("canary_weight", "k8s") if i % 2 == 0 else ("k8s", "canary_weight")
        for kind in order:
            # every run changes the weights (offsets alternate), so each task writes
            offset = 0 if (i + (kind == "k8s")) % 2 == 0 else 5
            book = write_playbook(workdir, "weight-{0}.yml".format(kind), weight_tasks(kind, offset))
            run = run_playbook(sb, book)
            if run.rc != 0:
                failures.append("{0}: {1}".format(kind, run.failure()))
                continue
            tasks = [t for t in run.tasks() if t[0].startswith("weight ")]
            if not all(r.get("changed") for t in tasks for r in t[4].values()):
                failures.append("{0}: a task reported no change".format(kind))
            samples[kind]["task"].extend(e - s for _n, _a, s, e, _h, _p in tasks)
            for name, _a, s, e, _h, _p in run.tasks():
                if name.startswith("floor "):
                    floors.setdefault(name[len("floor "):], []).append(e - s)
            samples[kind]["wall"].append(run.wall)
            samples[kind]["cpu"].append(run.cpu)
    if not samples["canary_weight"]["task"] or not samples["k8s"]["task"]:
        raise RuntimeError("no successful runs: " + "; ".join(failures[:2]))
    out = {
        "runs": RUNS,
        "tasks_per_run": len(WEIGHTS),
        "cw_task": median(samples["canary_weight"]["task"]),
        "k8s_task": median(samples["k8s"]["task"]),
        "cw_wall": median(samples["canary_weight"]["wall"]),
        "k8s_wall": median(samples["k8s"]["wall"]),
        "cw_cpu": median(samples["canary_weight"]["cpu"]),
        "k8s_cpu": median(samples["k8s"]["cpu"]),
        "failures": failures,
        "floors": {k: median(v) for k, v in floors.items()},
    }
    out["ratio_task"] = out["cw_task"] / out["k8s_task"]
    out["ratio_wall"] = out["cw_wall"] / out["k8s_wall"]
    out["ratio_cpu"] = out["cw_cpu"] / out["k8s_cpu"]
    log("  canary_weight {0:.2f}s/task, k8s {1:.2f}s/task".format(out["cw_task"], out["k8s_task"]))
    return out
