"""Runs the emulated API alone (no controllers) in a background thread for the API tests."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SANDBOX_ROOT = Path(__file__).resolve().parents[1]
if str(SANDBOX_ROOT) not in sys.path:
    sys.path.insert(0, str(SANDBOX_ROOT))

from aiohttp import web  # noqa: E402

from kubesandbox.apiserver import make_api_app  # noqa: E402
from kubesandbox.faults import Faults, RequestLog  # noqa: E402
from kubesandbox.store import Store  # noqa: E402

KUBECTL = Path(sys.executable).parent / "kubectl"

KUBECONFIG_TEMPLATE = """apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: {url}
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: tester
    namespace: default
current-context: sandbox
users:
- name: tester
  user:
    token: not-checked
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ApiHandle:
    url: str
    store: Store
    faults: Faults
    request_log: RequestLog
    kubeconfig: Path
    loop: asyncio.AbstractEventLoop
    proxy_targets: dict = field(default_factory=dict)

    def call(self, fn, *args, **kwargs):
        """Run fn on the server's loop thread (the store is not thread-safe) and return its result."""
        async def run():
            return fn(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def kubectl(self, *args, input=None, check=True, timeout=30) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(self.kubeconfig.parent / "cache"))
        proc = subprocess.run([str(KUBECTL), *args], input=input, capture_output=True, text=True, env=env,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def kubectl_env(self) -> dict:
        return dict(os.environ, KUBECONFIG=str(self.kubeconfig), KUBECACHEDIR=str(self.kubeconfig.parent / "cache"))


def start_api(tmp_path: Path):
    store = Store()
    for name in ("default", "kube-system"):
        store.create(("", "v1", "namespaces"), {"metadata": {"name": name}})
    faults, request_log = Faults(seed=7), RequestLog()
    proxy_targets: dict = {}

    def resolver(namespace, name, port):
        return proxy_targets.get((namespace, name))

    port = _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def serve():
        runner = web.AppRunner(make_api_app(store, faults, request_log, resolver), shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        state["runner"] = runner
        ready.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("API server did not start")
    url = f"http://127.0.0.1:{port}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG_TEMPLATE.format(url=url))
    handle = ApiHandle(url, store, faults, request_log, kubeconfig, loop, proxy_targets)

    def stop():
        fut = asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop)
        try:
            fut.result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
    return handle, stop


@pytest.fixture
def api_server(tmp_path):
    handle, stop = start_api(tmp_path)
    try:
        yield handle
    finally:
        stop()


class _Http:
    """`requests` with a timeout on every call, so a server bug fails a test instead of hanging it."""

    def __getattr__(self, method):
        import requests
        call = getattr(requests, method)
        return lambda *args, **kwargs: call(*args, **{"timeout": 10, **kwargs})


rest = _Http()
