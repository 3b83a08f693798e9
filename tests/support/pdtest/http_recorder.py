"""A real HTTP server on 127.0.0.1 that records what it receives, for webhook, alert and metrics
provider tests.

Each test starts one through the ``recorder`` fixture factory and it is shut down when the test
ends, passed or failed.
"""

import json
import threading
import time
from urllib.parse import parse_qsl, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8") or "{}")

    @property
    def url_path(self):
        """The path without its query string."""
        return urlsplit(self.path).path

    def params(self):
        """The query string's parameters, each name once."""
        return dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))


class RecordingServer:
    """Answers every GET or POST with ``status`` and ``reply`` after ``delay`` seconds.

    ``statuses`` (a list) overrides ``status`` for successive requests, to test retries. A
    callable ``status`` is asked, with the recorded request (already in ``requests``), for the
    status of that request: a gate that opens after some questions, or a hook that changes the
    world at its n-th question. A ``reply`` that is not bytes is sent as JSON; a callable
    ``reply`` is asked, with the recorded request, for the reply to that request.
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
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                server.requests.append(recorded)
                if server.delay:
                    time.sleep(server.delay)
                if server.statuses:
                    status = server.statuses.pop(0)
                else:
                    status = server.status(recorded) if callable(server.status) else server.status
                reply = server.reply(recorded) if callable(server.reply) else server.reply
                content_type = "text/plain"
                if not isinstance(reply, bytes):
                    reply, content_type = json.dumps(reply).encode("utf-8"), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

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
