"""Service networking: kube-proxy-like forwarders and the pods' hosts files.

Each Service keeps the ClusterIP the API server gave it (the sandbox's service range is routed
locally, see podnet); each of its ports listens there and forwards every connection to one ready
endpoint (round robin), as kube-proxy's userspace mode did. Endpoints come from the EndpointSlices,
as kube-proxy's do, so Services without a selector (a hand-written slice, like the one in front of
Traefik) work too.

Name resolution is one hosts file per namespace: every Service as `<svc>.<ns>`, `<svc>.<ns>.svc`
and `<svc>.<ns>.svc.cluster.local`, plus the bare `<svc>` for the namespace's own Services, which is
what the DNS search path gives a real pod.
"""
import asyncio
import itertools
import logging
from pathlib import Path

log = logging.getLogger(__name__)

SERVICES = ("", "v1", "services")
ENDPOINTSLICES = ("discovery.k8s.io", "v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
HOSTS_HEADER = "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"


class _PortForwarder:
    def __init__(self, proxy, key, port_name):
        self.proxy = proxy
        self.key = key
        self.port_name = port_name
        self.server = None
        self._rr = itertools.count()

    async def handle(self, reader, writer):
        targets = self.proxy.ready_targets(self.key, self.port_name)
        if not targets:
            writer.close()
            return
        start = next(self._rr)
        upstream = None
        for i in range(len(targets)):
            ip, port = targets[(start + i) % len(targets)]
            try:
                upstream = await asyncio.open_connection(ip, port)
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)


async def _pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()
        except (OSError, RuntimeError):
            writer.close()


class NetProxy:
    def __init__(self, hosts_dir):
        self._slices = {}         # (ns, slice name) -> (service name, {port_name: [(ip, port)]})
        self.hosts_dir = Path(hosts_dir)
        if self.hosts_dir.is_file():  # left by an older sandbox layout
            self.hosts_dir.unlink()
        self.hosts_dir.mkdir(parents=True, exist_ok=True)
        self._hosts_namespaces = set()
        self._services = {}       # (ns, name) -> service dict
        self._endpoints = {}      # (ns, name) -> {port_name: [(ip, port)]}
        self._forwarders = {}     # (ns, name, ip, port) -> _PortForwarder
        self._hosts_pending = False
        self._sync_pending = set()
        self._sync_lock = asyncio.Lock()

    # --- watch events ---------------------------------------------------------------------
    def on_event(self, event, gvr, obj):
        if gvr == SERVICES:
            key = (obj["metadata"].get("namespace"), obj["metadata"]["name"])
            if event == "DELETED":
                self._services.pop(key, None)
            else:
                self._services[key] = obj
            self._schedule_sync(key)
            self._schedule_hosts()
        elif gvr == ENDPOINTSLICES:
            self._on_slice(event, obj)

    def _on_slice(self, event, obj):
        ns = obj["metadata"].get("namespace")
        service = (obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        old = self._slices.pop((ns, obj["metadata"]["name"]), None)
        if event != "DELETED" and service:
            self._slices[(ns, obj["metadata"]["name"])] = (service, _slice_targets(obj))
        for name in {s for s in (service, old[0] if old else None) if s}:
            merged = {}
            for (slice_ns, _), (svc, targets) in sorted(self._slices.items()):
                if slice_ns == ns and svc == name:
                    for port_name, addrs in targets.items():
                        merged.setdefault(port_name, []).extend(addrs)
            self._endpoints[(ns, name)] = merged

    def ready_targets(self, key, port_name):
        ports = self._endpoints.get(key) or {}
        if port_name in ports:
            return ports[port_name]
        if len(ports) == 1:
            return next(iter(ports.values()))
        return []

    # --- listeners ------------------------------------------------------------------------
    def _schedule_sync(self, key):
        self._sync_pending.add(key)
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._sync()))

    async def _sync(self):
        # One sync at a time: two could otherwise both open a listener for the same new port.
        async with self._sync_lock:
            keys, self._sync_pending = self._sync_pending, set()
            for key in keys:
                await self._sync_service(key)

    async def _sync_service(self, key):
        svc = self._services.get(key)
        wanted = {}
        if svc is not None:
            ip = svc.get("spec", {}).get("clusterIP")
            if ip and ip != "None":
                for p in svc["spec"].get("ports") or []:
                    if p.get("protocol", "TCP") == "TCP":
                        wanted[(key[0], key[1], ip, int(p["port"]))] = p.get("name", "")
        for fkey in [k for k in self._forwarders if k[:2] == key and k not in wanted]:
            fwd = self._forwarders.pop(fkey)
            fwd.server.close()
        for fkey, port_name in wanted.items():
            fwd = self._forwarders.get(fkey)
            if fwd is not None:
                fwd.port_name = port_name
                continue
            fwd = _PortForwarder(self, key, port_name)
            try:
                fwd.server = await asyncio.start_server(fwd.handle, fkey[2], fkey[3])
            except OSError as exc:
                log.error("cannot listen for Service %s/%s on %s:%s: %s", key[0], key[1], fkey[2], fkey[3], exc)
                continue
            self._forwarders[fkey] = fwd

    def _schedule_hosts(self):
        if not self._hosts_pending:
            self._hosts_pending = True
            asyncio.get_running_loop().call_soon(self.write_hosts)

    def hosts_file(self, namespace):
        """The hosts file for pods of `namespace`, created on first use (it must exist to be mounted)."""
        if namespace not in self._hosts_namespaces:
            self._hosts_namespaces.add(namespace)
            self._write_namespace_hosts(namespace)
        return self.hosts_dir / namespace

    def write_hosts(self):
        self._hosts_pending = False
        for namespace in sorted(self._hosts_namespaces):
            self._write_namespace_hosts(namespace)

    def _write_namespace_hosts(self, namespace):
        lines = [HOSTS_HEADER]
        for (ns, name), svc in sorted(self._services.items()):
            ip = svc.get("spec", {}).get("clusterIP")
            if ip and ip != "None":
                short = f" {name}" if ns == namespace else ""
                lines.append(f"{ip}{short} {name}.{ns} {name}.{ns}.svc {name}.{ns}.svc.cluster.local\n")
        text = "".join(lines)
        # Rewritten in place: the pods' bind mounts point at this inode, a rename would hide updates.
        with open(self.hosts_dir / namespace, "a+") as f:
            f.seek(0)
            if f.read() == text:
                return
            f.seek(0)
            f.truncate()
            f.write(text)

    async def close(self):
        for fwd in self._forwarders.values():
            fwd.server.close()
        self._forwarders.clear()


def _slice_targets(endpoint_slice):
    """{port name: [(ip, port)]} of the ready endpoints of an EndpointSlice (no condition means ready)."""
    ips = [e["addresses"][0] for e in endpoint_slice.get("endpoints") or []
           if e.get("addresses") and (e.get("conditions") or {}).get("ready") is not False]
    targets = {}
    for p in endpoint_slice.get("ports") or []:
        if p.get("port") is not None:
            targets.setdefault(p.get("name") or "", []).extend((ip, int(p["port"])) for ip in ips)
    return targets
