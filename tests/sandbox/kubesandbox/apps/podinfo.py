"""Sample app run as a pod: a small podinfo look-alike whose misbehaviour is set by env vars.

A bad revision is then just a change of the pod template, as it would be on a real cluster.
"""
import argparse
import json
import os
import random
import secrets
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_float(name):
    try:
        return float(os.environ.get(name, "0") or 0)
    except ValueError:
        return 0.0


class Behaviour:
    def __init__(self, version):
        self.version = version
        self.fail_rate = _env_float("SANDBOX_FAIL_RATE")
        self.latency = _env_float("SANDBOX_LATENCY")
        self.never_ready = _env_flag("SANDBOX_NEVER_READY")
        self.hostname = os.environ.get("HOSTNAME") or socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    # Without it every small response waits for the delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    behaviour: Behaviour = None

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by http.server
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Version", self.behaviour.version)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _drain_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _probe(self, path):
        """Probes are never slowed down nor failed: only user traffic is."""
        if path == "/healthz":
            self._send(200, {"status": "OK"})
            return True
        if path == "/readyz":
            if self.behaviour.never_ready:
                self._send(503, {"status": "not ready"})
            else:
                self._send(200, {"status": "OK"})
            return True
        return False

    def _handle(self):
        body = self._drain_body()
        path = self.path.split("?", 1)[0]
        if self._probe(path):
            return
        b = self.behaviour
        if b.latency > 0:
            time.sleep(b.latency)
        if b.fail_rate > 0 and random.random() < b.fail_rate:
            self._send(500, {"error": "injected failure", "version": b.version})
            return
        if path in ("/", "/version"):
            self._send(200, {"hostname": b.hostname, "version": b.version, "message": f"greetings from podinfo v{b.version}"})
        elif path.startswith("/status/"):
            try:
                code = int(path.rsplit("/", 1)[1])
            except ValueError:
                code = 400
            self._send(code if 100 <= code < 600 else 400, {"status": code})
        elif path.startswith("/delay/"):
            try:
                seconds = min(float(path.rsplit("/", 1)[1]), 60.0)
            except ValueError:
                seconds = 0.0
            time.sleep(max(seconds, 0.0))
            self._send(200, {"delay": seconds})
        elif path == "/token" and self.command == "POST":
            self._send(200, {"token": secrets.token_hex(16), "expires_at": int(time.time()) + 60, "input": body.decode(errors="replace")})
        elif path == "/env":
            self._send(200, sorted(f"{k}={v}" for k, v in os.environ.items()))
        else:
            self._send(404, {"error": "not found", "path": path})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9898)
    parser.add_argument("--version", default="latest")
    args = parser.parse_args(argv)
    if _env_flag("SANDBOX_CRASH"):
        print("SANDBOX_CRASH is set: exiting at start", file=sys.stderr, flush=True)
        sys.exit(1)
    Handler.behaviour = Behaviour(args.version)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"podinfo {args.version} listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
