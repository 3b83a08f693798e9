"""In-process controllers: Deployment -> ReplicaSet -> Pod (as real processes), pod readiness, and
Endpoints/EndpointSlices for Services with a selector.

They work on the store directly (not through HTTP), so the request log only shows client calls.
Reconciliation is per namespace and level-triggered: any change in a namespace marks it dirty and
the worker recomputes everything there, writing only what differs, so it always converges.
"""
import asyncio
import copy
import hashlib
import json
import logging
import math
import random
import time
from datetime import datetime, timezone

from .errors import ApiError
from .runtime.localpods import CONFIGMAP, NODE_NAME, LocalPods, now_iso, pod_status

log = logging.getLogger(__name__)

DEPLOYMENTS = ("apps", "v1", "deployments")
REPLICASETS = ("apps", "v1", "replicasets")
PODS = ("", "v1", "pods")
SERVICES = ("", "v1", "services")
ENDPOINTS = ("", "v1", "endpoints")
ENDPOINTSLICES = ("discovery.k8s.io", "v1", "endpointslices")
CONFIGMAPS = ("", "v1", "configmaps")
SECRETS = ("", "v1", "secrets")
EVENTS = ("", "v1", "events")
NAMESPACES = ("", "v1", "namespaces")
SERVICEACCOUNTS = ("", "v1", "serviceaccounts")
WATCHED = {DEPLOYMENTS, REPLICASETS, PODS, SERVICES, CONFIGMAPS, SECRETS}

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# Kubernetes renders template hashes with this alphabet (no vowels, so no words by accident).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SLICE_MANAGER = "endpointslice-controller.k8s.io"


def _parse_iso(text):
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return time.time()


def template_hash(template):
    tmpl = copy.deepcopy(template)
    (tmpl.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(tmpl, sort_keys=True).encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:10])


def random_suffix(n=5):
    return "".join(random.choice(SAFE_ALPHABET) for _ in range(n))


def selector_matches(selector, labels):
    """A LabelSelector (matchLabels + matchExpressions) against a label dict."""
    if not selector:
        return False
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def owned_by(obj, owner):
    uid = owner["metadata"].get("uid")
    return any(ref.get("uid") == uid and ref.get("controller") for ref in obj["metadata"].get("ownerReferences") or [])


def owner_ref(owner, api_version, kind):
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


def scaled_value(value, total, round_up):
    """maxSurge/maxUnavailable: an int, or a percentage of the desired replicas."""
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value or 0)


def _without_zeros(d):
    """Kubernetes omits zero counts from status (omitempty); rollout tools cope with that."""
    return {k: v for k, v in d.items() if v not in (0, None)}


class Controllers:
    def __init__(self, store, runner, block: int):
        self.store = store
        self.runner = runner
        self.local = LocalPods(runner, block, lambda ns, name: self.mark(ns))
        self.pods = self.local.pods
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task = None
        self._ticker = None
        self._last_progress: dict[tuple[str, str], tuple] = {}

    # --- wiring ----------------------------------------------------------------------------
    def install(self):
        self.store.add_listener(self.on_event)
        self.store.add_admission(DEPLOYMENTS, self.admit_deployment)

    def start(self):
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run())
        self._ticker = loop.create_task(self._tick())

    async def stop(self):
        for t in (self._task, self._ticker):
            if t:
                t.cancel()
        await self.local.stop_all()

    def on_event(self, event, gvr, obj):
        if gvr == NAMESPACES and event == "ADDED":
            # Every namespace gets its `default` ServiceAccount, as the serviceaccount controller does.
            self.mark(obj["metadata"]["name"])
            return
        if gvr not in WATCHED:
            return
        ns = obj["metadata"].get("namespace")
        if gvr == PODS and event == "DELETED":
            self.local.forget(ns, obj["metadata"]["name"])
        if gvr == SERVICES and event == "DELETED":
            self._delete_endpoints_later(ns, obj["metadata"]["name"])
        self.mark(ns)

    def mark(self, ns):
        if ns:
            self._dirty.add(ns)
            self._wake.set()

    def admit_deployment(self, operation, obj, old):
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxSurge", "25%")
            ru.setdefault("maxUnavailable", "25%")
        pod_spec = (spec.get("template") or {}).setdefault("spec", {})
        pod_spec.setdefault("restartPolicy", "Always")
        pod_spec.setdefault("terminationGracePeriodSeconds", 30)
        pod_spec.setdefault("dnsPolicy", "ClusterFirst")

    # --- worker ----------------------------------------------------------------------------
    async def _run(self):
        while True:
            await self._wake.wait()
            # A short pause lets one burst of writes (kubectl apply of many objects) settle first.
            await asyncio.sleep(0.005)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for ns in sorted(dirty):
                try:
                    self.reconcile_namespace(ns)
                except ApiError as exc:
                    # A concurrent client write won the race; the event it caused brings us back.
                    log.debug("reconcile %s: %s", ns, exc.message)
                    self.mark(ns)
                except Exception:
                    log.exception("reconcile of namespace %s failed", ns)

    async def _tick(self):
        """Progress deadlines pass without any event; look again every second."""
        while True:
            await asyncio.sleep(1.0)
            for ns, _ in list(self._last_progress):
                self.mark(ns)

    def reconcile_namespace(self, ns):
        try:
            self.store.get(NAMESPACES, None, ns)
        except ApiError:
            return
        if not self.store.list(SERVICEACCOUNTS, ns, field_selector="metadata.name=default"):
            self.store.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": "default", "namespace": ns}})
        deployments = self.store.list(DEPLOYMENTS, ns)
        present = {d["metadata"]["name"] for d in deployments}
        for key in [k for k in self._last_progress if k[0] == ns and k[1] not in present]:
            del self._last_progress[key]
        for d in deployments:
            self.reconcile_deployment_replicasets(d)
        rss = self.store.list(REPLICASETS, ns)
        for rs in rss:
            self.reconcile_replicaset_pods(rs)
        pods = self.store.list(PODS, ns)
        for pod in pods:
            self.sync_pod(pod)
        pods = self.store.list(PODS, ns)
        for rs in rss:
            self.write_replicaset_status(rs, pods)
        for d in self.store.list(DEPLOYMENTS, ns):
            self.write_deployment_status(d, self.store.list(REPLICASETS, ns), pods)
        for svc in self.store.list(SERVICES, ns):
            self.reconcile_endpoints(svc, pods)

    # --- helpers over pods -----------------------------------------------------------------
    def _pods_of(self, rs, pods):
        return [p for p in pods if owned_by(p, rs) and not p["metadata"].get("deletionTimestamp")]

    def _is_ready(self, pod):
        return self.local.is_ready(pod["metadata"]["namespace"], pod["metadata"]["name"])

    # --- Deployment -> ReplicaSets -----------------------------------------------------------
    def reconcile_deployment_replicasets(self, d):
        ns = d["metadata"]["namespace"]
        spec = d.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        h = template_hash(template)
        rss = [rs for rs in self.store.list(REPLICASETS, ns) if owned_by(rs, d)]
        pods = self.store.list(PODS, ns)
        new_rs = next((rs for rs in rss if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == h), None)
        olds = [rs for rs in rss if rs is not new_rs]
        max_rev = max([int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in olds] or [0])
        if new_rs is None:
            new_rs = self._create_replicaset(d, h, max_rev + 1)
        elif int(new_rs["metadata"].get("annotations", {}).get(REVISION, "0")) <= max_rev:
            # Going back to an older template makes that ReplicaSet the newest revision again.
            new_rs["metadata"].setdefault("annotations", {})[REVISION] = str(max_rev + 1)
            new_rs = self.store.update(REPLICASETS, new_rs)
        revision = new_rs["metadata"]["annotations"][REVISION]
        if (d["metadata"].get("annotations") or {}).get(REVISION) != revision:
            d["metadata"].setdefault("annotations", {})[REVISION] = revision
            d = self.store.update(DEPLOYMENTS, d)
        if spec.get("paused"):
            return
        targets = self._scale_targets(spec, desired, new_rs, olds, pods)
        self._prune_history(spec, olds, targets, pods)
        for rs in [new_rs] + olds:
            if rs["metadata"]["name"] not in targets:
                continue
            want = targets[rs["metadata"]["name"]]
            have = int(rs["spec"].get("replicas", 0))
            if have != want:
                rs["spec"]["replicas"] = want
                self.store.update(REPLICASETS, rs)
                self.record_event(d, "ScalingReplicaSet", f"Scaled {'up' if want > have else 'down'} "
                                  f"replica set {rs['metadata']['name']} from {have} to {want}")

    def _prune_history(self, spec, olds, targets, pods):
        """Old ReplicaSets scaled to zero beyond revisionHistoryLimit go, oldest first."""
        limit = int(spec.get("revisionHistoryLimit", 10))
        idle = [rs for rs in olds if targets[rs["metadata"]["name"]] == 0 and int(rs["spec"].get("replicas", 0)) == 0
                and not self._pods_of(rs, pods)]
        idle.sort(key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0")))
        for rs in idle[: max(0, len(idle) - limit)]:
            self._delete_quietly(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            del targets[rs["metadata"]["name"]]

    def _create_replicaset(self, d, h, revision):
        template = copy.deepcopy(d["spec"].get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{d['metadata']['name']}-{h}",
                "namespace": d["metadata"]["namespace"],
                "labels": dict(tmeta["labels"]),
                "annotations": {
                    REVISION: str(revision),
                    "deployment.kubernetes.io/desired-replicas": str(d["spec"].get("replicas", 1)),
                },
                "ownerReferences": [owner_ref(d, "apps/v1", "Deployment")],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template,
                     "minReadySeconds": d["spec"].get("minReadySeconds", 0)},
        }
        try:
            return self.store.create(REPLICASETS, rs)
        except ApiError as exc:
            if exc.code != 409:
                raise
            return self.store.get(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])

    def _scale_targets(self, spec, desired, new_rs, olds, pods):
        name = lambda rs: rs["metadata"]["name"]  # noqa: E731
        cur = {name(rs): int(rs["spec"].get("replicas", 0)) for rs in [new_rs] + olds}
        # Pods about to be removed must not count as available, or two passes could both spend the budget.
        ready = {name(rs): min(sum(1 for p in self._pods_of(rs, pods) if self._is_ready(p)), cur[name(rs)])
                 for rs in [new_rs] + olds}
        targets = dict(cur)
        olds_left = [rs for rs in olds if cur[name(rs)] > 0 or self._pods_of(rs, pods)]
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            for rs in olds:
                targets[name(rs)] = 0
            old_pods = sum(len(self._pods_of(rs, pods)) for rs in olds)
            targets[name(new_rs)] = desired if old_pods == 0 else 0
            return targets
        if not olds_left:
            targets[name(new_rs)] = desired
            return targets
        ru = strategy.get("rollingUpdate") or {}
        surge = scaled_value(ru.get("maxSurge", "25%"), desired, True)
        unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        total = sum(cur.values())
        new_cur = cur[name(new_rs)]
        if new_cur < desired:
            targets[name(new_rs)] = min(desired, new_cur + max(0, desired + surge - total))
        elif new_cur > desired:
            targets[name(new_rs)] = desired
        budget = sum(ready.values()) - (desired - unavailable)
        for rs in sorted(olds, key=lambda r: int(r["metadata"].get("annotations", {}).get(REVISION, "0"))):
            n = cur[name(rs)]
            unready = n - ready[name(rs)]
            cut = min(n, unready + max(0, budget))
            budget -= max(0, cut - unready)
            targets[name(rs)] = n - cut
        return targets

    # --- ReplicaSet -> Pods ------------------------------------------------------------------
    def reconcile_replicaset_pods(self, rs):
        ns = rs["metadata"]["namespace"]
        pods = [p for p in self.store.list(PODS, ns) if owned_by(p, rs)]
        want = int(rs["spec"].get("replicas", 0))
        if len(pods) < want:
            for _ in range(want - len(pods)):
                self._create_pod(rs)
        elif len(pods) > want:
            # Unready pods go first, then the youngest, as the ReplicaSet controller prefers.
            doomed = sorted(pods, key=lambda p: (self._is_ready(p), [-ord(c) for c in p["metadata"].get("creationTimestamp", "")]))
            for pod in doomed[: len(pods) - want]:
                try:
                    self.store.delete(PODS, ns, pod["metadata"]["name"])
                except ApiError as exc:
                    if exc.code != 404:
                        raise

    def _create_pod(self, rs):
        template = copy.deepcopy(rs["spec"].get("template") or {})
        tmeta = template.get("metadata") or {}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{rs['metadata']['name']}-{random_suffix()}",
                "generateName": f"{rs['metadata']['name']}-",
                "namespace": rs["metadata"]["namespace"],
                "labels": dict(tmeta.get("labels") or {}),
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [owner_ref(rs, "apps/v1", "ReplicaSet")],
            },
            "spec": dict(template.get("spec") or {}, nodeName=NODE_NAME),
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        return self.store.create(PODS, pod)

    def write_replicaset_status(self, rs, pods):
        try:
            rs = self.store.get(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
        except ApiError:
            return
        mine = self._pods_of(rs, pods)
        ready = sum(1 for p in mine if self._is_ready(p))
        status = _without_zeros({"replicas": len(mine), "fullyLabeledReplicas": len(mine),
                                 "readyReplicas": ready, "availableReplicas": ready})
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        if rs.get("status") != status:
            rs["status"] = status
            self.store.update(REPLICASETS, rs, subresource="status")

    # --- Deployment status ---------------------------------------------------------------------
    def write_deployment_status(self, d, all_rss, pods):
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        spec = d.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        h = template_hash(spec.get("template") or {})
        rss = [rs for rs in all_rss if owned_by(rs, d)]
        new_rs = next((rs for rs in rss if (rs["metadata"].get("labels") or {}).get(HASH_LABEL) == h), None)
        pods_all = [p for rs in rss for p in self._pods_of(rs, pods)]
        updated = len(self._pods_of(new_rs, pods)) if new_rs else 0
        ready = sum(1 for p in pods_all if self._is_ready(p))
        total_spec = sum(int(rs["spec"].get("replicas", 0)) for rs in rss)
        counts = {
            "replicas": len(pods_all),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, total_spec - ready),
        }
        old = d.get("status") or {}
        old_conds = {c["type"]: c for c in old.get("conditions") or []}
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(ru.get("maxUnavailable", "25%"), desired, False) if ru else 0
        now = now_iso()
        conditions = []

        def condition(ctype, status, reason, message, progress=False):
            prev = old_conds.get(ctype)
            c = {"type": ctype, "status": status, "reason": reason, "message": message}
            same = prev and prev.get("status") == status
            c["lastTransitionTime"] = prev["lastTransitionTime"] if same and prev.get("lastTransitionTime") else now
            unchanged = same and prev.get("reason") == reason and prev.get("message") == message
            c["lastUpdateTime"] = prev.get("lastUpdateTime", now) if unchanged and not progress else now
            return c

        if ready >= desired - max_unavailable:
            conditions.append(condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."))
        else:
            conditions.append(condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."))
        rs_name = new_rs["metadata"]["name"] if new_rs else name
        complete = updated == desired and counts["replicas"] == desired and ready == desired
        key = (ns, name)
        fingerprint = (rs_name, counts["replicas"], updated, ready)
        progressed = self._last_progress.get(key, (None,))[0] != fingerprint
        prev_prog = old_conds.get("Progressing")
        deadline = spec.get("progressDeadlineSeconds")
        if complete:
            self._last_progress.pop(key, None)
            conditions.append(condition("Progressing", "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.'))
        elif progressed or not prev_prog:
            self._last_progress[key] = (fingerprint, time.time())
            conditions.append(condition("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', progress=True))
        else:
            since = self._last_progress.get(key, (None, _parse_iso(prev_prog.get("lastUpdateTime"))))[1]
            if deadline is not None and time.time() - since > int(deadline):
                conditions.append(condition("Progressing", "False", "ProgressDeadlineExceeded", f'ReplicaSet "{rs_name}" has timed out progressing.'))
            else:
                conditions.append(dict(prev_prog))
        # Kubernetes lists Available first, then Progressing; keep that order stable.
        status = _without_zeros(counts)
        status["observedGeneration"] = d["metadata"].get("generation", 1)
        status["conditions"] = conditions
        if old != status:
            d["status"] = status
            try:
                self.store.update(DEPLOYMENTS, d, subresource="status")
            except ApiError as exc:
                if exc.code != 409:
                    raise
                self.mark(ns)

    # --- Pods: processes and status --------------------------------------------------------------
    def sync_pod(self, pod):
        ns = pod["metadata"]["namespace"]
        st = self.local.state(pod)
        if st is None:
            return
        if st.process is None:
            self.local.start(pod, st, self._lookup)
        status = pod_status(pod, st)
        if pod.get("status") != status:
            pod["status"] = status
            try:
                self.store.update(PODS, pod, subresource="status")
            except ApiError as exc:
                if exc.code not in (404, 409):
                    raise
                self.mark(ns)

    def _lookup(self, kind, ns, name):
        try:
            return self.store.get(CONFIGMAPS if kind == CONFIGMAP else SECRETS, ns, name)
        except ApiError:
            return None

    # --- Endpoints and EndpointSlices --------------------------------------------------------------
    def reconcile_endpoints(self, svc, pods):
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            return
        name = svc["metadata"]["name"]
        matching = [p for p in pods if selector_matches({"matchLabels": selector}, p["metadata"].get("labels"))
                    and not p["metadata"].get("deletionTimestamp") and (p.get("status") or {}).get("podIP")]
        groups = {}
        for pod in sorted(matching, key=lambda p: p["metadata"]["name"]):
            ports = tuple(self._resolve_ports(spec.get("ports") or [], pod))
            if not ports:
                continue
            groups.setdefault(ports, []).append(pod)
        subsets = []
        slices = {}
        for ports, members in groups.items():
            ready = [p for p in members if self._is_ready(p)]
            unready = [p for p in members if not self._is_ready(p)]
            subset = {}
            if ready:
                subset["addresses"] = [self._address(p) for p in ready]
            if unready:
                subset["notReadyAddresses"] = [self._address(p) for p in unready]
            subset["ports"] = [dict(p) for p in ports]
            subsets.append(subset)
            sig = hashlib.sha256(json.dumps(ports).encode()).digest()
            slice_name = f"{name}-{''.join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in sig[:5])}"
            slices[slice_name] = {
                "addressType": "IPv4",
                "endpoints": [{"addresses": [p["status"]["podIP"]],
                               "conditions": {"ready": self._is_ready(p), "serving": self._is_ready(p), "terminating": False},
                               "nodeName": NODE_NAME, "targetRef": self._target_ref(p)} for p in members],
                "ports": [dict(p) for p in ports],
            }
        self._write_endpoints(svc, subsets)
        self._write_slices(svc, slices)

    def _resolve_ports(self, svc_ports, pod):
        out = []
        containers = (pod.get("spec") or {}).get("containers") or []
        named = {p.get("name"): p.get("containerPort") for c in containers for p in c.get("ports") or [] if p.get("name")}
        for sp in svc_ports:
            target = sp.get("targetPort", sp.get("port"))
            if isinstance(target, str) and not target.isdigit():
                if target not in named:
                    continue
                target = named[target]
            entry = {"port": int(target), "protocol": sp.get("protocol", "TCP")}
            if sp.get("name"):
                entry = {"name": sp["name"], **entry}
            out.append(tuple(sorted(entry.items())))
        return out

    def _target_ref(self, pod):
        return {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                "uid": pod["metadata"].get("uid", "")}

    def _address(self, pod):
        return {"ip": pod["status"]["podIP"], "nodeName": NODE_NAME, "targetRef": self._target_ref(pod)}

    def _write_endpoints(self, svc, subsets):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        labels = dict(svc["metadata"].get("labels") or {})
        try:
            ep = self.store.get(ENDPOINTS, ns, name)
        except ApiError:
            ep = None
        if ep is None:
            body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns, "labels": labels}}
            if subsets:
                body["subsets"] = subsets
            self.store.create(ENDPOINTS, body)
            return
        if (ep.get("subsets") or []) != subsets or (ep["metadata"].get("labels") or {}) != labels:
            ep["metadata"]["labels"] = labels
            if subsets:
                ep["subsets"] = subsets
            else:
                ep.pop("subsets", None)
            self.store.update(ENDPOINTS, ep)

    def _write_slices(self, svc, wanted):
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        existing = {s["metadata"]["name"]: s for s in self.store.list(ENDPOINTSLICES, ns, label_selector=f"kubernetes.io/service-name={name}")}
        if not wanted:
            # Kubernetes keeps one empty slice for a Service without endpoints.
            placeholder = f"{name}-{'b' * 5}"
            wanted = {placeholder: {"addressType": "IPv4", "endpoints": [], "ports": []}}
        for slice_name, body in wanted.items():
            cur = existing.pop(slice_name, None)
            labels = {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER}
            if cur is None:
                obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                       "metadata": {"name": slice_name, "namespace": ns, "labels": labels,
                                    "ownerReferences": [owner_ref(svc, "v1", "Service")]}, **body}
                self.store.create(ENDPOINTSLICES, obj)
            elif any(cur.get(k) != v for k, v in body.items()):
                cur.update(body)
                self.store.update(ENDPOINTSLICES, cur)
        for slice_name in existing:
            self._delete_quietly(ENDPOINTSLICES, ns, slice_name)

    def _delete_endpoints_later(self, ns, name):
        def run():
            self._delete_quietly(ENDPOINTS, ns, name)
            for s in self.store.list(ENDPOINTSLICES, ns, label_selector=f"kubernetes.io/service-name={name}"):
                if (s["metadata"].get("labels") or {}).get("endpointslice.kubernetes.io/managed-by") == SLICE_MANAGER:
                    self._delete_quietly(ENDPOINTSLICES, ns, s["metadata"]["name"])
        # Never write from inside a store listener: the store is still finishing the delete.
        asyncio.get_running_loop().call_soon(run)

    def _delete_quietly(self, gvr, ns, name):
        try:
            self.store.delete(gvr, ns, name)
        except ApiError as exc:
            if exc.code != 404:
                raise

    # --- Events --------------------------------------------------------------------------------
    def record_event(self, obj, reason, message, type_="Normal"):
        meta = obj["metadata"]
        ts = now_iso()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{random_suffix(10)}", "namespace": meta["namespace"]},
            "involvedObject": {"apiVersion": obj.get("apiVersion", "apps/v1"), "kind": obj.get("kind", "Deployment"),
                               "name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid", "")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": "deployment-controller"},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "reportingComponent": "deployment-controller", "reportingInstance": "",
        }
        try:
            self.store.create(EVENTS, event)
        except ApiError:
            log.debug("event not recorded: %s", message)

