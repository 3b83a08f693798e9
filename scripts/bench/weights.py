"""Figure 6: weight accuracy. canary_weight sets 5, 10, 20 and 50; 2000 requests through Traefik
show the canary's observed share."""
import yaml

from common import host_for, kubectl, run_playbook, split_through_traefik, wait_rollout, write_playbook

NAMESPACE = "bench-weights"
WEIGHTS = (5, 10, 20, 50)
REQUESTS = 2000


def _deployment(name, version):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{
                     "name": "podinfod", "image": "stefanprodan/podinfo:" + version,
                     "ports": [{"name": "http", "containerPort": 9898}],
                     "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9898}}}]}}},
    }


def _service(name, app):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def manifests():
    return [
        _deployment("podinfo-primary", "1.0.0"), _deployment("podinfo", "2.0.0"),
        _service("podinfo", "podinfo-primary"), _service("podinfo-primary", "podinfo-primary"),
        _service("podinfo-canary", "podinfo"),
        {"apiVersion": "traefik.io/v1alpha1", "kind": "TraefikService",
         "metadata": {"name": "podinfo", "namespace": NAMESPACE},
         "spec": {"weighted": {"services": [{"name": "podinfo-primary", "port": 80, "weight": 100}]}}},
        {"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute",
         "metadata": {"name": "podinfo", "namespace": NAMESPACE},
         "spec": {"entryPoints": ["web"], "routes": [{
             "match": "Host(`{0}`)".format(host_for(NAMESPACE)), "kind": "Rule",
             "services": [{"name": "podinfo", "kind": "TraefikService", "port": 80}]}]}},
    ]


def measure(sb, workdir, log):
    kubectl(sb, "create", "namespace", NAMESPACE, check=False)
    sb.apply(yaml.safe_dump_all(manifests()))
    wait_rollout(sb, NAMESPACE, "podinfo-primary")
    wait_rollout(sb, NAMESPACE, "podinfo")
    sb.wait_for_weights(NAMESPACE, "podinfo", {"podinfo-primary": 100}, timeout=30)
    rows = []
    for weight in WEIGHTS:
        book = write_playbook(workdir, "accuracy.yml", [{"name": "set weight", "progressive.delivery.canary_weight": {
            "name": "podinfo", "namespace": NAMESPACE, "port": 80, "weight": weight}}])
        run = run_playbook(sb, book)
        if run.rc != 0:
            raise RuntimeError("canary_weight {0} failed (rc {1}): {2}".format(weight, run.rc, run.failure()))
        live = sb.wait_for_weights(NAMESPACE, "podinfo", {"podinfo-primary": 100 - weight, "podinfo-canary": weight},
                                   timeout=30)
        counts = split_through_traefik(sb, NAMESPACE, REQUESTS)
        observed = 100.0 * counts.get("2.0.0", 0) / REQUESTS
        rows.append({"set": weight, "observed": observed, "error": observed - weight, "live_after": live,
                     "other": {k: v for k, v in counts.items() if k not in ("1.0.0", "2.0.0")}})
        log("  weight {0}: observed {1:.2f}%".format(weight, observed))
    return {"rows": rows, "max_error": max(abs(r["error"]) for r in rows)}
