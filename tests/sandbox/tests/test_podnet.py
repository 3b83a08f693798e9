"""Pods of the real control plane are test hosts in network namespaces of ours, on a bridge of ours."""
import subprocess
import sys
import time

import pytest

from kubesandbox.runtime.podnet import PodNetwork
from kubesandbox.runtime.pids import signal_group

# A block no sandbox claims (sandboxes take 20-249), so this test never meets a running one.
BLOCK = 251


def curl(argv_prefix, url):
    done = subprocess.run(argv_prefix + ["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", url],
                          capture_output=True, text=True, check=False)
    return done.stdout


@pytest.fixture
def net(tmp_path):
    network = PodNetwork(BLOCK)
    network.setup()
    started = []
    try:
        yield network, started, network.write_resolv_conf(tmp_path / "resolv.conf")
    finally:
        for proc in started:
            if proc.poll() is None:
                signal_group(proc.pid, 9)
                proc.wait()
        network.teardown()


def serve(network, started, resolv, namespace, ip, port):
    """Python's HTTP server in the pod's namespace, with the pods' resolv.conf mounted."""
    argv = [*network.enter(namespace), "unshare", "--mount", "sh", "-c",
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(resolv),
            sys.executable, "-m", "http.server", "--bind", ip, str(port)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started.append(proc)
    deadline = time.monotonic() + 10
    while curl([], f"http://{ip}:{port}/") != "200":
        assert time.monotonic() < deadline, f"nothing answers on {ip}:{port}"
        time.sleep(0.1)


def test_pods_reach_each_other_the_host_reaches_them_and_they_reach_service_addresses(net):
    network, started, resolv = net
    a, ip_a = network.add_pod()
    b, ip_b = network.add_pod()
    assert ip_a != ip_b and ip_a.startswith(f"198.18.{BLOCK}.")
    serve(network, started, resolv, a, ip_a, 9898)

    assert curl(network.enter(b), f"http://{ip_a}:9898/") == "200"
    # A Service's ClusterIP is local to the host: the kube-proxy stand-in listens there.
    service_ip = f"198.19.{BLOCK}.7"
    assert network.contains_service_ip(service_ip) and not network.contains_service_ip(ip_a)
    listener = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", service_ip, "8080"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    started.append(listener)
    deadline = time.monotonic() + 10
    while curl(network.enter(b), f"http://{service_ip}:8080/") != "200":
        assert time.monotonic() < deadline, "a pod cannot reach a Service address"
        time.sleep(0.1)


def test_a_removed_pod_takes_its_namespace_and_address_with_it_and_teardown_leaves_nothing(net):
    network, _started, _resolv = net
    first, ip = network.add_pod()
    network.remove_pod(first)
    assert first not in network.namespaces()
    again, ip_again = network.add_pod()
    assert ip_again == ip

    network.teardown()

    assert network.namespaces() == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert network.bridge not in links and f"pdv{BLOCK}x" not in links
    routes = subprocess.run(["ip", "route", "show", "table", "local"], capture_output=True, text=True).stdout
    assert network.service_cidr.split("/")[0] not in routes


def test_unused_pod_addresses_stay_on_the_bridge(net):
    network, _started, _resolv = net
    route = subprocess.run(["ip", "route", "get", f"198.18.{BLOCK}.200"], capture_output=True, text=True).stdout
    assert f"dev {network.bridge}" in route
