"""Runs each pod as a real local process in its own mount namespace.

The private /etc/hosts bind-mounted there makes `<svc>.<ns>` resolve to Service ClusterIPs, the
way cluster DNS does for a real pod. `unshare` and `sh` exec into the app, so the PID we record is
the app's own.
"""
import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .pids import alive, signal_group
from .podnet import PodNetwork

log = logging.getLogger(__name__)

LOADTESTER_IMAGE = "ghcr.io/fluxcd/flagger-loadtester"
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
VENV_BIN = str(Path(sys.executable).parent)
MAX_BACKOFF = 10.0


def image_version(image):
    """`stefanprodan/podinfo:4.0.6` -> `4.0.6`; a registry port is not a tag; no tag -> latest."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def image_name(image):
    """`ghcr.io/fluxcd/flagger-loadtester:0.34.0` -> `ghcr.io/fluxcd/flagger-loadtester`."""
    return image.split(":", 1)[0].split("@", 1)[0]


def program_for(image, ip, port, loadtester=None, command=(), args=()):
    """The container image decides what plays the pod's part: Flagger's own load tester for its
    image, started the way its image and the container's `command`/`args` say (the image's
    entrypoint is `./loadtester`, with Flagger's defaults), else our sample app."""
    if image_name(image) == LOADTESTER_IMAGE:
        if loadtester is None:
            raise RuntimeError(f"no loadtester binary to run {image}")
        argv = [*(command or ["./loadtester"]), *(args or [])]
        if Path(argv[0]).name == "loadtester":
            argv[0] = str(loadtester)
        return argv
    return [sys.executable, "-m", "kubesandbox.apps.podinfo", "--host", ip, "--port", str(port), "--version", image_version(image)]


def default_port(image):
    return 8080 if image_name(image) == LOADTESTER_IMAGE else 9898


@dataclass
class PodSpec:
    namespace: str
    name: str
    ip: str
    image: str
    port: int
    env: dict = field(default_factory=dict)
    # The container's `command` and `args`, for the images whose program honours them.
    command: list = field(default_factory=list)
    args: list = field(default_factory=list)
    # With the real control plane each pod has a network namespace of its own (runtime/podnet.py).
    netns: str | None = None


@dataclass
class PodProcess:
    spec: PodSpec
    proc: asyncio.subprocess.Process | None = None
    restart_count: int = 0
    running: bool = False
    last_exit_code: int | None = None
    stopping: bool = False
    task: asyncio.Task | None = None


class PodRunner:
    """Starts, restarts (restartPolicy Always, with backoff) and stops pod processes.

    on_change(namespace, name, pod_process) is called whenever a process starts or exits, so the
    controller can update the Pod's status.
    """

    def __init__(self, sandbox_dir, hosts_file, pid_dir, on_change=None, resolv_conf=None, loadtester=None):
        self.log_dir = Path(sandbox_dir) / "logs" / "pods"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.hosts_file = hosts_file  # namespace -> path of the hosts file its pods mount
        # Mounted over /etc/resolv.conf of pods in network namespaces (see podnet.write_resolv_conf).
        self.resolv_conf = resolv_conf
        self.pid_dir = pid_dir
        self.loadtester = loadtester  # Flagger's loadtester binary (cluster/flagger.py)
        self.on_change = on_change or (lambda *a: None)
        self.pods: dict[tuple[str, str], PodProcess] = {}

    def _pid_name(self, spec):
        return f"pod-{spec.namespace}-{spec.name}"

    def log_path(self, namespace, name):
        return self.log_dir / f"{namespace}_{name}.log"

    def _environment(self, spec):
        env = {
            # The venv's kubectl first: the load tester's image carries one for `kubectl` webhooks.
            "PATH": os.pathsep.join([VENV_BIN, os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": os.environ.get("HOME", "/"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": PACKAGE_ROOT,
            "PYTHONDONTWRITEBYTECODE": "1",
            "HOSTNAME": spec.name,
            "POD_NAME": spec.name,
            "POD_NAMESPACE": spec.namespace,
            "POD_IP": spec.ip,
        }
        # Lets `down` and the tests recognise every process that belongs to this sandbox.
        if os.environ.get("KUBESANDBOX_DIR"):
            env["KUBESANDBOX_DIR"] = os.environ["KUBESANDBOX_DIR"]
        env.update({k: str(v) for k, v in spec.env.items()})
        return env

    def start(self, spec: PodSpec):
        key = (spec.namespace, spec.name)
        if key in self.pods:
            return self.pods[key]
        pp = PodProcess(spec=spec)
        self.pods[key] = pp
        pp.task = asyncio.get_running_loop().create_task(self._supervise(pp))
        return pp

    def _program(self, spec):
        return program_for(spec.image, spec.ip, spec.port, self.loadtester, spec.command, spec.args)

    async def _spawn(self, pp):
        spec = pp.spec
        argv = [
            "unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(self.hosts_file(spec.namespace)),
            *self._program(spec),
        ]
        if spec.netns:
            mounts = ['mount --bind "$0" /etc/hosts']
            files = [str(self.hosts_file(spec.namespace))]
            if self.resolv_conf:
                mounts.append('mount --bind "$1" /etc/resolv.conf && shift')
                files.append(str(self.resolv_conf))
            argv = [*PodNetwork.enter(spec.netns), "unshare", "--mount", "sh", "-c",
                    " && ".join(mounts) + ' && exec "$@"', *files, *self._program(spec)]
        logf = open(self.log_path(spec.namespace, spec.name), "ab")
        try:
            pp.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
                env=self._environment(spec), start_new_session=True,
            )
        finally:
            logf.close()
        self.pid_dir.record(self._pid_name(spec), pp.proc.pid)

    async def _supervise(self, pp):
        backoff = 0.5
        while not pp.stopping:
            try:
                await self._spawn(pp)
            except (OSError, RuntimeError) as exc:
                log.error("cannot start pod %s/%s: %s", pp.spec.namespace, pp.spec.name, exc)
                pp.last_exit_code = 127
            else:
                pp.running = True
                self.on_change(pp.spec.namespace, pp.spec.name, pp)
                pp.last_exit_code = await pp.proc.wait()
                pp.running = False
                self.pid_dir.forget(self._pid_name(pp.spec))
            if pp.stopping:
                break
            pp.restart_count += 1
            self.on_change(pp.spec.namespace, pp.spec.name, pp)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def stop(self, namespace, name, grace=3.0):
        pp = self.pods.pop((namespace, name), None)
        if pp is None:
            return
        pp.stopping = True
        proc = pp.proc
        if proc is not None and proc.returncode is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except asyncio.TimeoutError:
                signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        if proc is not None and alive(proc.pid):
            signal_group(proc.pid, signal.SIGKILL)
        if pp.task is not None:
            pp.task.cancel()
            try:
                await pp.task
            except asyncio.CancelledError:
                pass
        self.pid_dir.forget(self._pid_name(pp.spec))

    def pid_of(self, namespace, name):
        pp = self.pods.get((namespace, name))
        return pp.proc.pid if pp and pp.proc and pp.running else None

    async def stop_all(self):
        await asyncio.gather(*(self.stop(ns, n) for ns, n in list(self.pods)))
