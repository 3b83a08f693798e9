"""A real HTTP server on 127.0.0.1 that records what it receives, for webhook and alert tests.

Each test starts one through the ``recorder`` fixture factory and it is shut down when the test
ends, passed or failed.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class RecordingServer:
    """Answers every POST with ``status`` and ``reply`` after ``delay`` seconds.

    ``statuses`` (a list) overrides ``status`` for successive requests, to test retries.
    """

    def __init__(self, status=200, reply=b"ok", delay=0.0, statuses=None):
        self.status = status
        self.reply = reply
        self.delay = delay
        self.statuses = list(statuses or [])
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.requests.append(
                    Recorded("POST", self.path, dict(self.headers.items()), body)
                )
                if server.delay:
                    time.sleep(server.delay)
                status = server.statuses.pop(0) if server.statuses else server.status
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(server.reply)))
                self.end_headers()
                self.wfile.write(server.reply)

        ThreadingHTTPServer.daemon_threads = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self.url = "http://127.0.0.1:{0}".format(self.port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
