"""Graphite's render API (Debian's graphite-web) on a loopback port, for the sandbox.

Run by the system Python, where Debian installs graphite-web and Django: ``python3 graphite_web.py
HOST PORT``, with GRAPHITE_SETTINGS_MODULE naming the sandbox's settings. The standard library's
WSGI server is enough for a test's few queries a second; threads keep one slow render from
holding up the next.
"""
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    from graphite.wsgi import application
    with make_server(host, port, application, server_class=ThreadingWSGIServer,
                     handler_class=QuietHandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
