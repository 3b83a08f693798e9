"""Snapshots of every object's resourceVersion, to show what a run wrote and what it left alone."""
import json
import time

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
