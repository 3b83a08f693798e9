"""Webhook runner run as a pod, speaking the Flagger loadtester's protocol.

Commands run inside the pod's mount namespace, so `<svc>.<ns>` names resolve through the
sandbox's private /etc/hosts exactly as the article's acceptance and load tests expect.
"""
import argparse
import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Flagger's webhooks give up after their own timeout; a blocking command must not outlive it by much.
BLOCKING_TIMEOUT = 120


class Background:
    """Long commands (`hey -z 10m ...`) run once in the background, as Flagger's loadtester keeps them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = {}

    def start(self, cmd, log_output):
        with self._lock:
            proc = self._running.get(cmd)
            if proc is not None and proc.poll() is None:
                return False
            out = None if log_output else subprocess.DEVNULL
            self._running[cmd] = subprocess.Popen(["sh", "-c", cmd], stdout=out, stderr=out, stdin=subprocess.DEVNULL)
            return True

    def stop_all(self):
        with self._lock:
            for proc in self._running.values():
                if proc.poll() is None:
                    proc.terminate()


BACKGROUND = Background()


def run_blocking(shell, cmd):
    try:
        done = subprocess.run([shell, "-c", cmd], capture_output=True, text=True, timeout=BLOCKING_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return 500, f"command timed out after {BLOCKING_TIMEOUT}s"
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0:
        return 500, f"command {cmd!r} failed (exit {done.returncode}): {output}"
    return 200, output


class Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by http.server
        sys.stdout.write("%s %s\n" % (self.address_string(), format % args))
        sys.stdout.flush()

    def _reply(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?", 1)[0] in ("/healthz", "/readyz"):
            self._reply(200, "OK")
        else:
            self._reply(404, "not found")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
            metadata = payload.get("metadata") or {}
        except (ValueError, AttributeError):
            self._reply(400, "invalid JSON payload")
            return
        cmd = metadata.get("cmd")
        if not cmd:
            self._reply(400, "metadata.cmd is required")
            return
        kind = metadata.get("type", "cmd")
        if kind == "bash":
            code, text = run_blocking("bash", cmd)
        elif kind == "cmd":
            log_output = str(metadata.get("logCmdOutput", "false")).lower() == "true"
            started = BACKGROUND.start(cmd, log_output)
            # 202 is what Flagger's loadtester answers for accepted background work; Flagger passes it.
            code, text = 202, ("command started" if started else "command already running")
        else:
            code, text = 400, f"unsupported metadata.type {kind!r} (expected cmd or bash)"
        print(f"webhook {payload.get('namespace')}/{payload.get('name')} phase={payload.get('phase')} type={kind} -> {code}", flush=True)
        self._reply(code, text)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"loadtester listening on {args.host}:{args.port}", flush=True)
    def _stop(*_):
        BACKGROUND.stop_all()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    finally:
        BACKGROUND.stop_all()


if __name__ == "__main__":
    main()
