"""The kubelet's side of a pod: a network namespace and address per pod (runtime/podnet.py), its
environment, its process, readiness and the status a kubelet reports.

Whoever owns a LocalPods decides when pods start and stop and where their status goes; `on_change`
tells it that a pod's process or readiness changed.
"""
import asyncio
import base64
import logging
from datetime import datetime, timezone

from . import probe
from .podrunner import PodSpec, default_port

log = logging.getLogger(__name__)

NODE_NAME = "sandbox"
HOST_IP = "127.0.0.1"
# A terminating pod keeps serving this long: Traefik needs a moment to drop the endpoint.
TERMINATION_DELAY = 1.5
CONFIGMAP, SECRET = "ConfigMap", "Secret"


def now_iso():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PodState:
    """What the kubelet knows about one pod."""

    def __init__(self, ip, container, start_time, netns=None):
        self.ip = ip
        self.netns = netns
        self.container = container
        self.start_time = start_time
        self.ready = False
        self.ready_changed = start_time
        self.process = None
        self.started_at = None
        self.waiting_reason = "ContainerCreating"
        self.waiting_message = None
        self.probe_task = None


def referenced_objects(container):
    """(kind, name) of every ConfigMap and Secret the container's environment reads."""
    refs = set()
    for src in container.get("envFrom") or []:
        if "configMapRef" in src:
            refs.add((CONFIGMAP, src["configMapRef"].get("name")))
        elif "secretRef" in src:
            refs.add((SECRET, src["secretRef"].get("name")))
    for item in container.get("env") or []:
        vf = item.get("valueFrom") or {}
        if "configMapKeyRef" in vf:
            refs.add((CONFIGMAP, vf["configMapKeyRef"].get("name")))
        elif "secretKeyRef" in vf:
            refs.add((SECRET, vf["secretKeyRef"].get("name")))
    return refs


def resolve_env(ns, container, pod, ip, lookup):
    """The container's environment; lookup(kind, namespace, name) returns the object or None."""
    env = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            data = _data_of(lookup, CONFIGMAP, ns, src["configMapRef"], None)
        elif "secretRef" in src:
            data = _data_of(lookup, SECRET, ns, src["secretRef"], None)
        else:
            continue
        for k, v in (data or {}).items():
            env[prefix + k] = v
    fields = {"metadata.name": pod["metadata"]["name"], "metadata.namespace": ns, "status.podIP": ip,
              "spec.nodeName": NODE_NAME, "status.hostIP": HOST_IP,
              "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", "default")}
    for item in container.get("env") or []:
        name = item.get("name")
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
        elif "valueFrom" in item:
            vf = item["valueFrom"]
            if "configMapKeyRef" in vf:
                value = _data_of(lookup, CONFIGMAP, ns, vf["configMapKeyRef"], vf["configMapKeyRef"].get("key"))
            elif "secretKeyRef" in vf:
                value = _data_of(lookup, SECRET, ns, vf["secretKeyRef"], vf["secretKeyRef"].get("key"))
            elif "fieldRef" in vf:
                value = fields.get(vf["fieldRef"].get("fieldPath"), "")
            else:
                value = ""
            if value is not None:
                env[name] = value
        else:
            env[name] = ""
    return env


def _data_of(lookup, kind, ns, ref, key):
    """A ConfigMap/Secret (or one key of it); a missing one fails the start unless optional."""
    obj = lookup(kind, ns, ref.get("name"))
    if obj is None:
        if ref.get("optional"):
            return None
        raise LookupError(f'{kind.lower()} "{ref.get("name")}" not found')
    data = dict(obj.get("data") or {})
    if kind == SECRET:
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        data.update(obj.get("stringData") or {})
    else:
        data.update({k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("binaryData") or {}).items()})
    if key is None:
        return data
    if key not in data:
        if ref.get("optional"):
            return None
        raise LookupError(f'couldn\'t find key {key} in {ref.get("name")}')
    return data[key]


def expand(value, env):
    """$(VAR) references to earlier variables, as the kubelet expands them."""
    if "$(" not in value:
        return value
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$(", i):
            out.append("$(")
            i += 3
        elif value.startswith("$(", i) and ")" in value[i:]:
            end = value.index(")", i)
            ref = value[i + 2:end]
            out.append(env.get(ref, value[i:end + 1]))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


class LocalPods:
    """Each pod gets a network namespace and an address of its own from `network` (runtime/podnet.py)."""

    def __init__(self, runner, network, on_change):
        self.runner = runner
        self.runner.on_change = self._on_process_change
        self.network = network
        self.pods: dict[tuple[str, str], PodState] = {}
        self.on_change = on_change  # (namespace, name)

    def state(self, pod):
        """The pod's state, created (with its address) the first time the pod is seen; None without containers."""
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        st = self.pods.get((ns, name))
        if st is None:
            containers = (pod.get("spec") or {}).get("containers") or []
            if not containers:
                return None
            netns, ip = self.network.add_pod()
            st = PodState(ip, containers[0], (pod.get("status") or {}).get("startTime") or now_iso(), netns)
            self.pods[(ns, name)] = st
        return st

    def start(self, pod, st, lookup):
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        c = st.container
        try:
            env = resolve_env(ns, c, pod, st.ip, lookup)
        except LookupError as exc:
            st.waiting_reason, st.waiting_message = "CreateContainerConfigError", str(exc)
            return
        st.waiting_reason, st.waiting_message = "ContainerCreating", None
        image = c.get("image", "")
        port = next((p.get("containerPort") for p in c.get("ports") or []), None) or default_port(image)
        st.process = self.runner.start(PodSpec(namespace=ns, name=name, ip=st.ip, image=image, port=int(port), env=env,
                                               command=c.get("command") or [], args=c.get("args") or [],
                                               netns=st.netns))
        st.probe_task = asyncio.get_running_loop().create_task(self._probe_loop((ns, name)))

    def is_ready(self, ns, name):
        st = self.pods.get((ns, name))
        return bool(st and st.ready and st.process and st.process.running)

    async def _probe_loop(self, key):
        while key in self.pods:
            st = self.pods[key]
            proc = st.process
            ok = False
            if proc and proc.running:
                kind, port, path = probe.probe_target(st.container)
                ok = await probe.check(st.ip, kind, port or proc.spec.port, path)
            if key not in self.pods:
                return
            if ok != st.ready:
                st.ready = ok
                self.on_change(*key)
            # Fast until ready so rollouts take a second, not a probe period; slower afterwards.
            await asyncio.sleep(1.0 if ok else 0.1)

    def _on_process_change(self, ns, name, pp):
        st = self.pods.get((ns, name))
        if st is not None and not pp.running:
            st.ready = False
        self.on_change(ns, name)

    def forget(self, ns, name, delay=TERMINATION_DELAY, grace=3.0):
        """Stops the pod's process after `delay` (it keeps serving meanwhile); returns the task doing it."""
        st = self.pods.pop((ns, name), None)
        if st is None:
            return None
        if st.probe_task:
            st.probe_task.cancel()

        async def stop_then_release():
            try:
                await asyncio.sleep(delay)
                await self.runner.stop(ns, name, grace=grace)
            finally:
                # Released only once the process is gone, so a new pod never meets a busy address.
                self.network.remove_pod(st.netns)

        return asyncio.get_running_loop().create_task(stop_then_release())

    async def stop_all(self):
        for st in self.pods.values():
            if st.probe_task:
                st.probe_task.cancel()
        await self.runner.stop_all()

    def listing(self):
        """What `status` shows per pod."""
        out = []
        for (ns, name), st in sorted(self.pods.items()):
            proc = st.process
            out.append({"namespace": ns, "name": name, "ip": st.ip, "ready": st.ready,
                        "pid": self.runner.pid_of(ns, name), "restarts": proc.restart_count if proc else 0,
                        "log": str(self.runner.log_path(ns, name))})
        return out


def pod_status(pod, st):
    """The status a kubelet reports for the pod, keeping transition times that did not change."""
    proc = st.process
    running = bool(proc and proc.running)
    ready = running and st.ready
    old = pod.get("status") or {}
    old_conds = {c["type"]: c for c in old.get("conditions") or []}

    def cond(ctype, value):
        value = "True" if value else "False"
        prev = old_conds.get(ctype)
        when = prev["lastTransitionTime"] if prev and prev.get("status") == value else now_iso()
        return {"type": ctype, "status": value, "lastProbeTime": None, "lastTransitionTime": when}

    c = st.container
    cstatus = {"name": c.get("name", "app"), "image": c.get("image", ""), "imageID": "",
               "ready": ready, "restartCount": proc.restart_count if proc else 0, "started": running}
    if running:
        cstatus["containerID"] = f"sandbox://{proc.proc.pid}"
        prev_state = ((old.get("containerStatuses") or [{}])[0].get("state") or {}).get("running")
        same_pid = ((old.get("containerStatuses") or [{}])[0].get("containerID")) == cstatus["containerID"]
        cstatus["state"] = {"running": {"startedAt": prev_state["startedAt"] if prev_state and same_pid else now_iso()}}
    elif proc is not None and proc.restart_count:
        cstatus["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                        "message": f"back-off restarting failed container (exit code {proc.last_exit_code})"}}
        cstatus["lastState"] = {"terminated": {"exitCode": proc.last_exit_code, "reason": "Error"}}
    else:
        waiting = {"reason": st.waiting_reason}
        if st.waiting_message:
            waiting["message"] = st.waiting_message
        cstatus["state"] = {"waiting": waiting}
    phase = "Running" if running or (proc is not None and proc.restart_count) else "Pending"
    return {
        "phase": phase,
        "conditions": [cond("PodReadyToStartContainers", proc is not None), cond("Initialized", True),
                       cond("Ready", ready), cond("ContainersReady", ready), cond("PodScheduled", True)],
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": st.ip,
        "podIPs": [{"ip": st.ip}],
        "startTime": st.start_time,
        "containerStatuses": [cstatus],
        # qosClass is the API server's: it derives it from the resources and refuses a change.
        "qosClass": old.get("qosClass") or "BestEffort",
    }
