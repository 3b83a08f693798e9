"""Readiness checks against a pod process, as the kubelet would run them."""
import asyncio

PROBE_TIMEOUT = 1.0


def probe_target(container):
    """(kind, port, path) for the container's readiness probe.

    An exec probe cannot run a binary of the real image here; our apps answer GET /readyz instead,
    which is what podinfo's own exec probe checks. Without a probe a pod is ready once it listens.
    """
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or [] if p.get("name")}
    first_port = next((p.get("containerPort") for p in container.get("ports") or []), None)
    probe = container.get("readinessProbe") or {}

    def port_of(value):
        if isinstance(value, str) and not value.isdigit():
            return ports.get(value, first_port)
        return int(value) if value is not None else first_port

    if "httpGet" in probe:
        http = probe["httpGet"]
        return "http", port_of(http.get("port")), http.get("path") or "/"
    if "tcpSocket" in probe:
        return "tcp", port_of(probe["tcpSocket"].get("port")), None
    if "exec" in probe or "grpc" in probe:
        return "http", first_port, "/readyz"
    return "tcp", first_port, None


async def check(ip, kind, port, path):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), PROBE_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        if kind == "tcp":
            return True
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nUser-Agent: kube-probe/sandbox\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), PROBE_TIMEOUT)
        parts = line.split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
    finally:
        writer.close()
