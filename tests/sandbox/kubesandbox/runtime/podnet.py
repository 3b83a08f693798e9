"""Pod networking for the real control plane: every pod is a test host in a network namespace of
ours, with its own address on a bridge of ours.

The real API server refuses loopback addresses in EndpointSlices and Endpoints ("may not be in the
loopback range"), so pods cannot share 127.0.0.0/8. Each sandbox takes
two /24s of 198.18.0.0/15, the range set aside for testing network devices (RFC 2544), so they can
never be anybody's real hosts:

- `198.18.B.0/24`: the bridge `pdbrB` holds `198.18.B.1` (the pods' gateway, and where the sandbox's
  own listeners such as Traefik's web entrypoint are reachable from pods); pod n gets
  `198.18.B.n` on `eth0` in the namespace `pdB-n`, the host end of its veth pair on the bridge.
- `198.19.B.0/24`: the API server's service range. A `local` route makes the whole /24 local to the
  root namespace, so our kube-proxy stand-in can listen on each Service's real ClusterIP and pods
  reach it through their default route.

Nothing is routed anywhere else: a packet for an unused pod address ends on the bridge, and no
forwarding or NAT is set up.
"""
import ipaddress
import logging
import subprocess
import threading

log = logging.getLogger(__name__)

FIRST_POD_HOST = 2
LAST_POD_HOST = 254


def _ip(*args, check=True):
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


class PodNetwork:
    def __init__(self, block):
        self.block = block
        self.bridge = f"pdbr{block}"
        self.gateway = f"198.18.{block}.1"
        self.pod_cidr = f"198.18.{block}.0/24"
        self.service_cidr = f"198.19.{block}.0/24"
        self._prefix = f"pd{block}-"
        self._used = {}  # host number -> namespace name
        self._lock = threading.Lock()

    # --- the sandbox's network ----------------------------------------------------------------
    def setup(self):
        """Create the bridge and the local service range, after removing what a dead sandbox of
        the same block left behind."""
        self.teardown()
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        _ip("route", "add", "local", self.service_cidr, "dev", "lo", "table", "local")

    def teardown(self):
        for name in self.namespaces():
            self.remove_pod(name)
        _ip("link", "delete", self.bridge, check=False)
        _ip("route", "delete", "local", self.service_cidr, "dev", "lo", "table", "local", check=False)
        with self._lock:
            self._used.clear()

    def namespaces(self):
        out = _ip("netns", "list", check=False).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self._prefix)]

    def contains_service_ip(self, ip):
        try:
            return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(self.service_cidr)
        except ValueError:
            return False

    # --- pods -------------------------------------------------------------------------------
    def add_pod(self):
        """A new network namespace with its own address; returns ``(namespace, ip)``."""
        with self._lock:
            host = next((n for n in range(FIRST_POD_HOST, LAST_POD_HOST + 1) if n not in self._used), None)
            if host is None:
                raise RuntimeError(f"no pod address left in {self.pod_cidr}")
            name = f"{self._prefix}{host}"
            self._used[host] = name
        ip = f"198.18.{self.block}.{host}"
        veth = self._veth(host)
        try:
            _ip("netns", "add", name)
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("link", "set", veth, "master", self.bridge, "up")
            _ip("-n", name, "addr", "add", f"{ip}/24", "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "route", "add", "default", "via", self.gateway)
            # The address may have been a removed pod's. Under load the host was seen to keep
            # sending to that pod's MAC address until its neighbour entry expired (half a minute of
            # a pod that answers inside its namespace but not to probes, Traefik or Services).
            _ip("neigh", "flush", "to", ip, "dev", self.bridge, check=False)
        except RuntimeError:
            self.remove_pod(name)
            raise
        return name, ip

    def remove_pod(self, name):
        """Delete the pod's veth pair and namespace, and free its address.

        The pair is deleted first and explicitly: a deleted namespace takes its interfaces with it
        only when the kernel gets round to it, and the address may be handed out again at once.
        """
        host = int(name[len(self._prefix):])
        _ip("link", "delete", self._veth(host), check=False)
        _ip("netns", "delete", name, check=False)
        with self._lock:
            self._used.pop(host, None)

    def _veth(self, host):
        return f"pdv{self.block}x{host}"

    @staticmethod
    def enter(name):
        """The argv prefix that runs a command inside the pod's network namespace."""
        return ["nsenter", f"--net=/run/netns/{name}"]

    @staticmethod
    def write_resolv_conf(path):
        """The resolv.conf pods mount: names resolve through their hosts file, and a lookup that
        falls through to DNS (Python's HTTP server asks for its own address's name at start) must
        fail at once, not wait on the machine's resolver, which a pod's namespace cannot reach."""
        with open(path, "w") as handle:
            handle.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        return path
