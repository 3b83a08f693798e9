"""Figure 6: weight accuracy. canary_weight sets 5, 10, 20 and 50; 2000 requests through Traefik
show the canary's observed share."""
from common import kubectl, run_playbook, split_through_traefik, write_playbook
from pdtest.apps import deploy_pair

NAMESPACE = "bench-weights"
WEIGHTS = (5, 10, 20, 50)
REQUESTS = 2000


def measure(sb, workdir, log):
    kubectl(sb, "create", "namespace", NAMESPACE, check=False)
    # The primary/canary pair as Flagger's initialisation leaves it, all traffic on the primary.
    deploy_pair(sb, NAMESPACE, primary_version="1.0.0", canary_version="2.0.0", weights_timeout=30)
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
