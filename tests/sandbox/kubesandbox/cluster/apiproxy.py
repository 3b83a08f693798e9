"""The proxy in front of the real API server that users' clients go through: it injects API faults
(500, 503, 429, latency, dropped connections, conflicts) and keeps the log of client requests.
Traefik and the controllers talk to the API server directly.

It listens on plain HTTP on 127.0.0.1. A request carrying the sandbox's own token (`Bearer
sandbox`, what the sandbox's kubeconfig holds) goes on as the admin, with the admin's client
certificate; any other Authorization header (a ServiceAccount's token) is passed on untouched, so
the API server judges that identity with RBAC. Responses are streamed, so watches work.
"""
import logging
import ssl
import time

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web
from yarl import URL

from ..faults import fault_status, injected_answer, parse_target, request_verb

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "Bearer sandbox"
# Not passed on in either direction (RFC 9110 hop-by-hop fields, and the length aiohttp recomputes);
# bodies pass as they are, compressed or not.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "host", "content-length"}


class ApiProxy:
    def __init__(self, upstream_url, ca_file, admin_cert, admin_key, faults, request_log):
        self.upstream = upstream_url.rstrip("/")
        self.faults = faults
        self.request_log = request_log
        as_admin = ssl.create_default_context(cafile=str(ca_file))
        as_admin.load_cert_chain(str(admin_cert), str(admin_key))
        as_caller = ssl.create_default_context(cafile=str(ca_file))
        self._contexts = {"admin": as_admin, "caller": as_caller}
        self._sessions = {}

    def _session(self, who):
        if who not in self._sessions:
            self._sessions[who] = ClientSession(
                connector=TCPConnector(ssl=self._contexts[who], limit=0),
                # No total timeout: a watch lasts as long as the client asked for.
                timeout=ClientTimeout(total=None, sock_connect=10), auto_decompress=False)
        return self._sessions[who]

    async def close(self):
        for session in self._sessions.values():
            await session.close()

    async def handle(self, request):
        start = time.monotonic()
        target = parse_target(request.path)
        verb = request_verb(request.method, target, request.query)
        logged = []

        def record(status):
            if not logged:
                logged.append(self.request_log.record(verb, request.path, status, time.monotonic() - start,
                                                      request.headers.get("User-Agent", ""), method=request.method,
                                                      query=request.query_string))

        status = 0
        try:
            # A watch is logged once its answer starts streaming (its duration is the time to the
            # headers); any other request when its answer is complete.
            response = (await injected_answer(self.faults, request, target)
                        or await self._forward(request, record if verb == "watch" else None))
            status = response.status
            return response
        finally:
            record(status)

    async def _forward(self, request, on_headers=None):
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        who = "caller"
        if headers.get("Authorization", SANDBOX_TOKEN) == SANDBOX_TOKEN:
            headers.pop("Authorization", None)
            who = "admin"
        body = await request.read() if request.can_read_body else None
        try:
            upstream = await self._session(who).request(
                request.method, URL(self.upstream + request.raw_path, encoded=True),
                headers=headers, data=body, allow_redirects=False)
        except (ClientError, OSError) as exc:
            body, _ = fault_status("error", 503, None)
            body["message"] = f"the sandbox's API proxy cannot reach the API server: {exc}"
            return web.json_response(body, status=503)
        try:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(request)
            if on_headers:
                on_headers(upstream.status)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response
        finally:
            upstream.release()


async def serve(proxy, port):
    """Start the proxy on 127.0.0.1:port; returns the aiohttp runner to clean up."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    return runner
