"""The sandbox's kubelet for the real control plane: registers the Node, keeps its Lease and Ready
condition fresh, runs the pods the scheduler binds to it as local processes and reports their
status through pods/status, the way a kubelet does.

It speaks for the node with its own client certificate, so the Node authorizer and the
NodeRestriction admission plugin judge it as they judge any kubelet.
"""
import asyncio
import logging
import platform
from datetime import datetime, timezone

from ..runtime.localpods import HOST_IP, NODE_NAME, TERMINATION_DELAY, LocalPods, pod_status, referenced_objects
from .client import ApiError, Informer

log = logging.getLogger(__name__)

LEASE_SECONDS = 40
RENEW_EVERY = 5.0
NODE_STATUS_EVERY = 10.0
# A deleted pod's process is stopped within this, whatever terminationGracePeriodSeconds says.
MAX_STOP_GRACE = 2.0
START_RETRY = 1.0
CAPACITY = {"cpu": "8", "memory": "16Gi", "pods": "250", "ephemeral-storage": "100Gi"}


def _micro_time():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _arch():
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


class Kubelet:
    def __init__(self, api, runner, network, node_name=NODE_NAME):
        self.api = api
        self.node_name = node_name
        self.local = LocalPods(runner, network, self._changed)
        self.pods = {}          # (ns, name) -> the pod as last seen from the API
        self._reported = {}     # (ns, name) -> the status we last sent
        self._terminating = set()
        self._dirty = set()
        self._wake = asyncio.Event()
        self._tasks = []
        self._node_uid = None
        self._ready_since = _time()
        self.informer = Informer(api, "/api/v1/pods", self._on_pod, fieldSelector=f"spec.nodeName={node_name}")

    # --- node ---------------------------------------------------------------------------------
    def _node_status(self, version):
        now = _time()

        def condition(ctype, status, reason, message, since):
            return {"type": ctype, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": since}

        status = {
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", self._ready_since),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", self._ready_since),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", self._ready_since),
                condition("Ready", "True", "KubeletReady", "the sandbox runs pods as local processes", self._ready_since),
            ],
            "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": self.node_name}],
        }
        if version:
            status.update({
                "capacity": CAPACITY, "allocatable": CAPACITY,
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": platform.release(),
                             "osImage": "kubesandbox", "containerRuntimeVersion": "sandbox://1",
                             "kubeletVersion": version, "kubeProxyVersion": "", "operatingSystem": "linux",
                             "architecture": _arch()},
            })
        return status

    async def register(self):
        version = (await self.api.get("/version")).get("gitVersion", "")
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name,
                             "labels": {"kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": _arch(), "beta.kubernetes.io/os": "linux",
                                        "beta.kubernetes.io/arch": _arch()}},
                "status": self._node_status(version)}
        created = await self.api.create(node, exist_ok=True)
        if created is None:
            created = await self.api.patch(f"/api/v1/nodes/{self.node_name}/status", {"status": self._node_status(version)})
        self._node_uid = created["metadata"]["uid"]
        try:
            await self._renew_lease()
        except ApiError as exc:
            # The API server creates kube-node-lease just after it turns ready; the heartbeat retries.
            log.info("node lease: %s", exc)

    async def _renew_lease(self):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node_name}"
        spec = {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": _micro_time()}
        try:
            await self.api.patch(path, {"spec": spec}, kind="merge")
        except ApiError as exc:
            if exc.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": self._node_uid}
            await self.api.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": self.node_name, "namespace": "kube-node-lease",
                                                "ownerReferences": [owner]},
                                   "spec": spec}, exist_ok=True)

    async def _heartbeat(self):
        last_status = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await self._renew_lease()
                if asyncio.get_running_loop().time() - last_status >= NODE_STATUS_EVERY:
                    await self.api.patch(f"/api/v1/nodes/{self.node_name}/status", {"status": self._node_status(None)})
                    last_status = asyncio.get_running_loop().time()
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                log.warning("node heartbeat: %s", exc)

    # --- pods ---------------------------------------------------------------------------------
    def start(self):
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._heartbeat()), loop.create_task(self.informer.run()),
                       loop.create_task(self._report())]

    async def stop(self):
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.local.stop_all()

    def _changed(self, ns, name):
        self._dirty.add((ns, name))
        self._wake.set()

    def _on_pod(self, event, pod):
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if event == "DELETED":
            self.pods.pop(key, None)
            self._reported.pop(key, None)
            # Force-deleted (or deleted by us after termination): nothing left to wait for.
            self.local.forget(*key, delay=0, grace=MAX_STOP_GRACE)
            return
        old = self.pods.get(key)
        self.pods[key] = pod
        if old is not None and old["metadata"].get("uid") != pod["metadata"].get("uid"):
            # A new pod under an old name: the old one's process must go first.
            self.local.forget(*key, delay=0, grace=MAX_STOP_GRACE)
        if pod["metadata"].get("deletionTimestamp"):
            if key not in self._terminating:
                self._terminating.add(key)
                asyncio.get_running_loop().create_task(self._terminate(key, pod))
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        if key not in self.local.pods:
            st = self.local.state(pod)
            if st is not None:
                asyncio.get_running_loop().create_task(self._start(key, st))
        self._changed(*key)

    async def _fetch(self, ns, kind, name):
        plural = "configmaps" if kind == "ConfigMap" else "secrets"
        return await self.api.get_or_none(f"/api/v1/namespaces/{ns}/{plural}/{name}")

    async def _start(self, key, st):
        """Starts the process once its ConfigMaps and Secrets are readable; a missing one is retried
        (CreateContainerConfigError meanwhile), as the kubelet retries it."""
        ns = key[0]
        while self.local.pods.get(key) is st and st.process is None:
            pod = self.pods.get(key)
            if pod is None or key in self._terminating:
                return
            objects = {}
            try:
                for kind, name in referenced_objects(st.container):
                    objects[(kind, name)] = await self._fetch(ns, kind, name)
            except (ApiError, OSError, asyncio.TimeoutError) as exc:
                # The Node authorizer learns of a new pod's references a moment after it binds.
                log.info("pod %s/%s: reading its config: %s", ns, key[1], exc)
                await asyncio.sleep(START_RETRY / 4)
                continue
            if self.local.pods.get(key) is not st:
                return
            self.local.start(pod, st, lambda kind, _ns, name: objects.get((kind, name)))
            self._changed(*key)
            if st.process is None:
                await asyncio.sleep(START_RETRY)

    async def _terminate(self, key, pod):
        ns, name = key
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        try:
            task = self.local.forget(ns, name, delay=min(grace, TERMINATION_DELAY), grace=max(0.1, min(grace, MAX_STOP_GRACE)))
            if task is not None:
                await task
            # As a kubelet does once the containers are gone: the API object goes for good.
            await self.api.delete(f"/api/v1/namespaces/{ns}/pods/{name}",
                                  {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                   "preconditions": {"uid": meta["uid"]}})
        except (ApiError, OSError, asyncio.TimeoutError) as exc:
            log.warning("pod %s/%s: finishing termination: %s", ns, name, exc)
        finally:
            self._terminating.discard(key)

    async def _report(self):
        """Sends each changed pod status once; a failed write is retried on the next change or second."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for key in sorted(dirty):
                pod, st = self.pods.get(key), self.local.pods.get(key)
                if pod is None or st is None or key in self._terminating:
                    continue
                status = pod_status(pod, st)
                if self._reported.get(key) == status:
                    continue
                try:
                    done = await self.api.patch(f"/api/v1/namespaces/{key[0]}/pods/{key[1]}/status",
                                                {"status": _replacing_states(status)})
                except ApiError as exc:
                    if exc.status != 404:
                        log.warning("pod %s/%s: status: %s", key[0], key[1], exc)
                        self._dirty.add(key)
                    continue
                except (OSError, asyncio.TimeoutError) as exc:
                    log.warning("pod %s/%s: status: %s", key[0], key[1], exc)
                    self._dirty.add(key)
                    continue
                self._reported[key] = status
                if key in self.pods:
                    self.pods[key] = done


def _replacing_states(status):
    """A strategic merge patch merges a container's state map: name the states it no longer has as
    null, or a running container would still show its earlier waiting reason."""
    patch = dict(status)
    patch["containerStatuses"] = []
    for cs in status.get("containerStatuses") or []:
        state = {k: None for k in ("waiting", "running", "terminated")}
        state.update(cs.get("state") or {})
        patch["containerStatuses"].append(dict(cs, state=state))
    return patch
