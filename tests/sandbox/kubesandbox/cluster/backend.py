"""The sandbox daemon on the real control plane.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as processes; this daemon
adds what a cluster gets from its nodes: the kubelet (pods as local processes), kube-proxy (the
Service forwarders, driven by Services and EndpointSlices) and DNS (the pods' hosts files).
"""
import asyncio
import ipaddress
import logging
import os
import time
from pathlib import Path

from ..daemon import READY_TIMEOUT, BaseDaemon, traefik_endpoint_slice
from ..manifests import bootstrap_objects, collection_rbac, traefik_crds, traefik_rbac
from ..runtime import layout as layout_mod
from ..runtime.components import Traefik
from ..runtime.localpods import NODE_NAME
from ..runtime.netproxy import ENDPOINTSLICES, SERVICES, NetProxy
from ..runtime.podnet import PodNetwork
from ..runtime.podrunner import PodRunner
from ..faults import Faults, RequestLog
from . import flagger
from .apiproxy import ApiProxy
from .apiproxy import serve as serve_proxy
from .client import Api, ApiError, Informer
from .controlplane import ControlPlane, binaries_dir
from .kubelet import Kubelet
from .pki import Pki

log = logging.getLogger(__name__)

TOKEN_SECONDS = 365 * 24 * 3600
# The ServiceAccount rbac/ gives the collection's least privilege.
COLLECTION_ACCOUNT = ("progressive-delivery", "progressive-delivery")
NOT_READY_TAINT = "node.kubernetes.io/not-ready"


class ClusterDaemon(BaseDaemon):
    api_scheme = "https"
    extra_ports = 5  # etcd client and peer, controller manager, scheduler, API proxy

    def __init__(self, root, bin_dir=None, flagger_bin_dir=None):
        super().__init__(root)
        self.bin_dir = bin_dir or binaries_dir(os.environ)
        # Flagger's load tester serves the pods of its image.
        self.flagger_bin_dir = Path(flagger_bin_dir or flagger.binaries_dir(os.environ))
        self.pki = Pki(self.layout.root / "pki")
        # The API server refuses loopback endpoint addresses: pods get namespaces and addresses of
        # their own, and the service range is made local, so the ClusterIP the API server hands out
        # is the address our forwarder listens on.
        self.network = PodNetwork(self.block)
        self.service_cidr = self.network.service_cidr
        etcd_client, etcd_peer, kcm, scheduler, proxy_port = self.more_ports
        # Users' clients (kubectl, the collection) go through the fault-injecting proxy.
        self.faults = Faults()
        self.request_log = RequestLog()
        self.proxy_port = proxy_port
        self.proxy_url = f"http://127.0.0.1:{proxy_port}"
        self.proxy = None
        self.collection_kubeconfig = self.layout.root / "kubeconfig-collection"
        self.controlplane = ControlPlane(self.layout.root, self.pid_dir, self.bin_dir, self.pki,
                                         [etcd_client, etcd_peer, self.api_port, kcm, scheduler], self.service_cidr)
        self.netproxy = NetProxy(self.layout.hosts)
        self.runner = PodRunner(self.layout.root, self.netproxy.hosts_file, self.pid_dir,
                                resolv_conf=self.layout.root / "resolv.conf",
                                loadtester=self.flagger_bin_dir / "loadtester")
        self.admin = self._api("admin")
        self.kubelet = Kubelet(self._api("kubelet"), self.runner, self.network)
        self.proxy_api = self._api("kube-proxy")
        self.traefik_token = self.pki.dir / "traefik.token"
        self.traefik = Traefik(self.layout.root, self.pid_dir, self.api_url, self.web_port, self.traefik_api_port,
                               self.metrics_port, token=str(self.traefik_token), ca_file=str(self.pki.ca.cert),
                               web_host=self.network.gateway)
        self._informers = []
        self._tasks = []
        self.timings = {}

    def _api(self, client):
        pair = self.pki.pair(client)
        return Api(self.api_url, self.pki.ca.cert, pair.cert, pair.key)

    def _mark(self, what):
        self.timings[what] = round(time.time() - self.started_at, 3)
        log.info("%s after %.2fs", what, self.timings[what])

    # --- start ------------------------------------------------------------------------------------
    async def start_cluster(self):
        self.network.setup()
        self.network.write_resolv_conf(self.runner.resolv_conf)
        self._mark("pod network")
        first_service_ip = str(ipaddress.ip_network(self.service_cidr)[1])
        self.pki.create(first_service_ip, NODE_NAME)
        admin = self.pki.pair("admin")
        layout_mod.write_kubeconfig(self.layout, self.proxy_url)
        layout_mod.write_kubeconfig(self.layout, self.api_url, path=self.layout.root / "kubeconfig-direct",
                                    ca_file=self.pki.ca.cert, client=(admin.cert, admin.key))
        self._mark("pki")
        await self.controlplane.start_api(READY_TIMEOUT)
        self._mark("apiserver ready")
        self.proxy = ApiProxy(self.api_url, self.pki.ca.cert, admin.cert, admin.key, self.faults, self.request_log)
        self._runners.append(await serve_proxy(self.proxy, self.proxy_port))
        loop = asyncio.get_running_loop()
        for path in ("/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"):
            gvr = SERVICES if path.endswith("services") else ENDPOINTSLICES
            informer = Informer(self.proxy_api, path, lambda event, obj, gvr=gvr: self.netproxy.on_event(event, gvr, obj))
            self._informers.append(informer)
            self._tasks.append(loop.create_task(informer.run()))
        await asyncio.gather(self.controlplane.start_controllers(READY_TIMEOUT), self._bootstrap(), self._start_kubelet())
        self._mark("cluster content")

    async def _start_kubelet(self):
        await self.kubelet.register()
        self.kubelet.start()
        # kubeadm labels its control-plane node; NodeRestriction keeps a kubelet from doing it itself.
        await self.admin.patch(f"/api/v1/nodes/{NODE_NAME}",
                               {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}}})

    async def _bootstrap(self):
        for crd in traefik_crds():
            await self.admin.create(crd, exist_ok=True)
        later = []
        for obj in bootstrap_objects() + traefik_rbac():
            if obj["kind"] == "Node":
                continue  # the kubelet registers it
            if obj["apiVersion"].startswith("traefik."):
                later.append(obj)
                continue
            await self.admin.create(obj, exist_ok=True)
        svc = await self.admin.get("/api/v1/namespaces/traefik/services/traefik")
        await self.admin.create(traefik_endpoint_slice(svc, self.web_port, self.network.gateway), exist_ok=True)
        self.traefik_token.write_text(await self._token("traefik", "traefik"))
        self.traefik_token.chmod(0o600)
        # The collection's own least-privilege identity, as its users apply it.
        for obj in collection_rbac():
            await self.admin.create(obj, exist_ok=True)
        layout_mod.write_kubeconfig(self.layout, self.proxy_url, path=self.collection_kubeconfig,
                                    token=await self._token(*COLLECTION_ACCOUNT))
        for obj in later:
            await self._create_when_served(obj)

    async def _token(self, namespace, service_account):
        token = await self.admin.request(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": TOKEN_SECONDS}})
        return token["status"]["token"]

    async def _create_when_served(self, obj, timeout=READY_TIMEOUT):
        """A new CRD's objects are accepted only once the CRD is established and discovery knows it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.admin.create(obj, exist_ok=True)
                return
            except ApiError as exc:
                if exc.status != 404 or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.1)

    async def settled(self):
        """The node schedulable and the `default` ServiceAccount there: a Deployment applied right
        after `up` then gets its pods at once instead of after the controllers' back-off."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            node = await self.admin.get_or_none(f"/api/v1/nodes/{NODE_NAME}")
            taints = [t.get("key") for t in ((node or {}).get("spec") or {}).get("taints") or []]
            sa = await self.admin.get_or_none("/api/v1/namespaces/default/serviceaccounts/default")
            if node is not None and NOT_READY_TAINT not in taints and sa is not None:
                self._mark("node schedulable")
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"node {NODE_NAME} not schedulable (taints {taints}) or no default ServiceAccount "
                           f"after {READY_TIMEOUT}s")

    # --- stop -------------------------------------------------------------------------------------
    async def stop_cluster(self):
        await self.kubelet.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.netproxy.close()
        for api in (self.admin, self.kubelet.api, self.proxy_api):
            await api.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.controlplane.stop()
        self.network.teardown()

    # --- status -----------------------------------------------------------------------------------
    def pods(self):
        return self.kubelet.local.listing()

    def env_values(self):
        # Clients go through the proxy (faults, request log); SANDBOX_DIRECT_API_URL and
        # kubeconfig-direct reach the API server itself, as Traefik and the controllers do.
        return dict(super().env_values(), SANDBOX_API_URL=self.proxy_url, SANDBOX_DIRECT_API_URL=self.api_url,
                    SANDBOX_COLLECTION_KUBECONFIG=str(self.collection_kubeconfig))

    def status(self):
        return dict(super().status(), control_plane=self.controlplane.status(), timings=self.timings,
                    service_cidr=self.service_cidr, pod_cidr=self.network.pod_cidr)

