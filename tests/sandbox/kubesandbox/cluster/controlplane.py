"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as supervised local processes.

Everything listens on 127.0.0.1 on ports chosen at start; etcd keeps its data in the sandbox
directory and starts empty every time, like the rest of the sandbox.
"""
import asyncio
import logging
import shutil
import ssl
import subprocess
from pathlib import Path

from ..runtime.components import Component, _http_get
from ..runtime.layout import REPO_ROOT, write_kubeconfig

log = logging.getLogger(__name__)

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build_control_plane.sh"
BIN_DIR_ENV = "KUBESANDBOX_CONTROL_PLANE_BIN"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
UNUSED_CONTROLLERS = (
    "persistentvolume-attach-detach-controller", "persistentvolume-binder-controller",
    "persistentvolume-expander-controller", "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller", "ephemeral-volume-controller",
    "volumeattributesclass-protection-controller", "resourceclaim-controller",
    "device-taint-eviction-controller", "resourcepoolstatusrequest-controller",
)


def built_binaries_dir(script, env_var, binaries, environ):
    """The directory holding `binaries`: $`env_var`, else what the build script prints last (it
    builds only when its cache misses)."""
    given = environ.get(env_var)
    if given:
        path = Path(given)
    else:
        done = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        path = Path(done.stdout.strip().splitlines()[-1])
    missing = [b for b in binaries if not (path / b).is_file()]
    if missing:
        raise RuntimeError(f"{path} lacks {', '.join(missing)}")
    return path


def binaries_dir(environ):
    """The directory holding the four binaries: $KUBESANDBOX_CONTROL_PLANE_BIN, else the build's."""
    return built_binaries_dir(BUILD_SCRIPT, BIN_DIR_ENV, BINARIES, environ)


def _insecure_context():
    # The controller manager and scheduler serve /healthz with a self-signed certificate.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Binary(Component):
    def __init__(self, sandbox_dir, pid_dir, bin_dir):
        super().__init__(sandbox_dir, pid_dir)
        self.binary = str(Path(bin_dir) / self.name)


class Etcd(_Binary):
    name = "etcd"

    def __init__(self, sandbox_dir, pid_dir, bin_dir, client_port, peer_port):
        super().__init__(sandbox_dir, pid_dir, bin_dir)
        self.data_dir = self.dir / "etcd"
        self.client_url = f"http://127.0.0.1:{client_port}"
        self.peer_url = f"http://127.0.0.1:{peer_port}"

    def prepare(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)

    def argv(self):
        return [
            self.binary, "--name=sandbox", f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.client_url}", f"--advertise-client-urls={self.client_url}",
            f"--listen-peer-urls={self.peer_url}", f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster=sandbox={self.peer_url}", "--initial-cluster-state=new",
            # Nothing here outlives the sandbox: durability buys nothing and fsync costs seconds.
            "--unsafe-no-fsync", "--snapshot-count=10000", "--log-level=warn",
        ]

    def ready(self):
        status, body = _http_get(f"{self.client_url}/health")
        return status == 200 and b'"true"' in body


class KubeApiserver(_Binary):
    name = "kube-apiserver"

    def __init__(self, sandbox_dir, pid_dir, bin_dir, pki, port, etcd_url, service_cidr):
        super().__init__(sandbox_dir, pid_dir, bin_dir)
        self.pki = pki
        self.port = port
        self.etcd_url = etcd_url
        self.service_cidr = service_cidr
        self.url = f"https://127.0.0.1:{port}"

    def argv(self):
        serving, pki = self.pki.pair("apiserver"), self.pki
        return [
            self.binary,
            "--bind-address=127.0.0.1", f"--secure-port={self.port}", "--advertise-address=127.0.0.1",
            # The endpoint reconcilers refuse a loopback advertise address (and the API server with
            # them); the `kubernetes` Service then has no endpoints, which nothing here needs.
            "--endpoint-reconciler-type=none",
            # By default it would look the node's name up in DNS first; our node answers nowhere,
            # and its InternalIP at least keeps `kubectl logs` and `exec` on this machine.
            "--kubelet-preferred-address-types=InternalIP",
            f"--etcd-servers={self.etcd_url}",
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={pki.ca.cert}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.sa_public}",
            f"--service-account-signing-key-file={pki.sa_private}",
            f"--service-cluster-ip-range={self.service_cidr}",
            "--allow-privileged=true",
            "--profiling=false",
            "--event-ttl=1h",
            "--v=1",
        ]

    def ready(self):
        ctx = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        admin = self.pki.pair("admin")
        ctx.load_cert_chain(str(admin.cert), str(admin.key))
        return _http_get(f"{self.url}/readyz", context=ctx)[0] == 200


class _ClientOfApi(_Binary):
    """A component that talks to the API server with its own client certificate."""

    def __init__(self, sandbox_dir, pid_dir, bin_dir, pki, api_url, port):
        super().__init__(sandbox_dir, pid_dir, bin_dir)
        self.pki = pki
        self.port = port
        self.api_url = api_url
        self.kubeconfig = self.pki.dir / f"{self.name}.kubeconfig"

    def prepare(self):
        pair = self.pki.pair(self.name)
        write_kubeconfig(None, self.api_url, path=self.kubeconfig, ca_file=self.pki.ca.cert, client=(pair.cert, pair.key))

    def common_flags(self):
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={self.port}",
            "--leader-elect=false",
            "--v=1",
        ]

    def ready(self):
        return _http_get(f"https://127.0.0.1:{self.port}/healthz", context=_insecure_context())[0] == 200


class KubeControllerManager(_ClientOfApi):
    name = "kube-controller-manager"

    def argv(self):
        return [
            self.binary, *self.common_flags(),
            # Everything but storage and device controllers: pods here have no volumes or devices,
            # and setting those up is most of the controller manager's start.
            "--controllers=*," + ",".join(f"-{c}" for c in UNUSED_CONTROLLERS),
            "--use-service-account-credentials=true",
            f"--root-ca-file={self.pki.ca.cert}",
            f"--service-account-private-key-file={self.pki.sa_private}",
            "--cluster-name=sandbox",
            # The sandbox's one node is local: notice its state changes within seconds.
            "--node-monitor-period=2s",
            "--horizontal-pod-autoscaler-sync-period=5s",
        ]


class KubeScheduler(_ClientOfApi):
    name = "kube-scheduler"

    def argv(self):
        return [self.binary, *self.common_flags()]


class ControlPlane:
    def __init__(self, sandbox_dir, pid_dir, bin_dir, pki, ports, service_cidr):
        etcd_client, etcd_peer, api_port, kcm_port, scheduler_port = ports
        self.etcd = Etcd(sandbox_dir, pid_dir, bin_dir, etcd_client, etcd_peer)
        self.apiserver = KubeApiserver(sandbox_dir, pid_dir, bin_dir, pki, api_port, self.etcd.client_url, service_cidr)
        self.controller_manager = KubeControllerManager(sandbox_dir, pid_dir, bin_dir, pki, self.apiserver.url, kcm_port)
        self.scheduler = KubeScheduler(sandbox_dir, pid_dir, bin_dir, pki, self.apiserver.url, scheduler_port)
        self.components = [self.etcd, self.apiserver, self.controller_manager, self.scheduler]

    async def start_api(self, timeout):
        """etcd and the API server; the API server waits for etcd by itself."""
        shutil.rmtree(self.etcd.data_dir, ignore_errors=True)
        await self.etcd.start()
        await self.apiserver.start()
        await asyncio.gather(self.etcd.wait_ready(timeout), self.apiserver.wait_ready(timeout))

    async def start_controllers(self, timeout):
        await asyncio.gather(self.controller_manager.start(), self.scheduler.start())
        await asyncio.gather(self.controller_manager.wait_ready(timeout), self.scheduler.wait_ready(timeout))

    async def stop(self):
        # Clients first, etcd last, so nothing logs a storm of connection errors on the way down.
        await asyncio.gather(self.controller_manager.stop(), self.scheduler.stop(), return_exceptions=True)
        await self.apiserver.stop()
        await self.etcd.stop()

    def status(self):
        return {c.name: c.status() for c in self.components}
