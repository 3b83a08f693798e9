"""With the real control plane the Service forwarders follow EndpointSlices (as kube-proxy does):
ready endpoints of all of a Service's slices, by port name."""
import asyncio
import os

from kubesandbox.daemon import claim_block
from kubesandbox.runtime.netproxy import ENDPOINTSLICES, SERVICES, NetProxy


def service(cluster_ip):
    return {"metadata": {"name": "web", "namespace": "shop"},
            "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}}


def endpoint_slice(name, endpoints, port):
    return {"metadata": {"name": name, "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


def test_forwarders_follow_the_ready_endpoints_of_every_slice(tmp_path):
    block, lock_fd = claim_block()

    async def scenario():
        async def answer(_reader, writer):
            writer.write(b"from the endpoint")
            await writer.drain()
            writer.close()

        upstream = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        proxy = NetProxy(tmp_path / "hosts")
        cluster_ip = f"127.{block}.0.9"
        try:
            proxy.on_event("ADDED", SERVICES, service(cluster_ip))
            proxy.on_event("ADDED", ENDPOINTSLICES, endpoint_slice("web-a", [("127.0.0.1", True), ("127.0.0.2", False)], port))
            proxy.on_event("ADDED", ENDPOINTSLICES, endpoint_slice("web-b", [("127.0.0.3", True)], port))
            assert sorted(proxy.ready_targets(("shop", "web"), "http")) == [("127.0.0.1", port), ("127.0.0.3", port)]
            proxy.on_event("DELETED", ENDPOINTSLICES, endpoint_slice("web-b", [], port))
            assert proxy.ready_targets(("shop", "web"), "http") == [("127.0.0.1", port)]
            # The forwarder starts listening on the next turns of the loop.
            for _ in range(50):
                try:
                    reader, writer = await asyncio.open_connection(cluster_ip, 8080)
                    break
                except OSError:
                    await asyncio.sleep(0.02)
            assert await reader.read() == b"from the endpoint"
            writer.close()
            assert f"{cluster_ip} web web.shop " in proxy.hosts_file("shop").read_text()
        finally:
            await proxy.close()
            upstream.close()

    try:
        asyncio.run(scenario())
    finally:
        os.close(lock_fd)
