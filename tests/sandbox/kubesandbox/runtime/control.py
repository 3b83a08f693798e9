"""The sandbox's control HTTP server: faults, the request log, component stop/start, status.

It listens on its own port and is never subject to the API's fault injection.
"""
import json

from aiohttp import web


def make_control_app(daemon) -> web.Application:
    routes = web.RouteTableDef()

    def as_json(data, status=200):
        return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, indent=1))

    @routes.get("/status")
    async def status(request):
        return as_json(daemon.status())

    @routes.get("/pods")
    async def pods(request):
        return as_json(daemon.status()["pods"])

    @routes.get("/faults")
    async def get_faults(request):
        return as_json(daemon.faults.to_dict())

    @routes.put("/faults")
    async def put_faults(request):
        try:
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            daemon.faults.configure(**body)
        except (ValueError, TypeError) as exc:
            return as_json({"error": str(exc)}, status=400)
        return as_json(daemon.faults.to_dict())

    @routes.delete("/faults")
    async def clear_faults(request):
        daemon.faults.clear()
        return as_json(daemon.faults.to_dict())

    @routes.get("/requests")
    async def get_requests(request):
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            return as_json({"error": "since must be an integer"}, status=400)
        return as_json({"last_index": daemon.request_log.last_index, "entries": daemon.request_log.entries(since)})

    @routes.delete("/requests")
    async def clear_requests(request):
        daemon.request_log.clear()
        return as_json({"last_index": daemon.request_log.last_index})

    @routes.post("/components/{name}/{action}")
    async def component(request):
        comp = daemon.components.get(request.match_info["name"])
        action = request.match_info["action"]
        if comp is None or action not in ("start", "stop", "restart"):
            return as_json({"error": f"unknown component or action; components: {sorted(daemon.components)}, "
                                     "actions: start, stop, restart"}, status=404)
        if action in ("stop", "restart"):
            await comp.stop()
        if action in ("start", "restart"):
            await comp.start()
            try:
                await comp.wait_ready(30)
            except (RuntimeError, TimeoutError) as exc:
                return as_json({"error": str(exc), **comp.status()}, status=500)
        return as_json(comp.status())

    app = web.Application()
    app.add_routes(routes)
    return app
