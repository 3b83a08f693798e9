#!/usr/bin/env python3
"""TCP over Unix sockets between the host and a network namespace of Flagger's own.

Flagger's controller serves its health and metrics endpoints on all interfaces (":8080", no flag
takes an address), so `make compare` runs it in a network namespace with nothing but loopback.
What it must reach (the sandbox's API proxy, a Prometheus proxy, the load tester's Service) is
carried over Unix sockets in a directory both sides see:

    host side:    bridge.host_side([(socket_path, target_host, target_port), ...])   (threads)
    inside:       bridge.py --ready FILE LISTEN_HOST:PORT=SOCKET_PATH ...         (a process)
"""
import os
import socket
import sys
import threading


def _pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _serve(listener, connect):
    while True:
        try:
            client, _addr = listener.accept()
        except OSError:
            return
        try:
            upstream = connect()
        except OSError:
            client.close()
            continue
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def host_side(mappings):
    """Listen on each Unix socket path and forward its connections to (host, port); returns the
    listening sockets (close them to stop)."""
    listeners = []
    for path, host, port in mappings:
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(64)
        listeners.append(listener)
        threading.Thread(target=_serve, args=(listener, lambda h=host, p=port: socket.create_connection((h, p), 10)),
                         daemon=True).start()
    return listeners


def _unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def inside(specs, ready):
    """Listen on each HOST:PORT (inside the namespace) and forward to its Unix socket."""
    threads = []
    for spec in specs:
        addr, path = spec.split("=", 1)
        host, port = addr.rsplit(":", 1)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen(64)
        thread = threading.Thread(target=_serve, args=(listener, lambda p=path: _unix(p)), daemon=True)
        thread.start()
        threads.append(thread)
    with open(ready, "w") as fh:
        fh.write("ready\n")
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] != "--ready":
        sys.exit("usage: bridge.py --ready FILE HOST:PORT=SOCKET ...")
    inside(sys.argv[3:], sys.argv[2])
