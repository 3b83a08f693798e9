"""Command line of the sandbox: up, down, status, fault, requests, component, exec.

The sandbox directory comes from --dir, else $SANDBOX_DIR, else `.sandbox`.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .runtime.layout import PACKAGE_ROOT, Layout, sandbox_dir
from .runtime.pids import PidDir, alive, terminate_all

UP_TIMEOUT = 60.0


def _control(layout, method, path, body=None):
    env = layout.read_env()
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(env["SANDBOX_CONTROL_URL"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _daemon_pid(layout):
    for name, pid in PidDir(layout.pids).entries():
        if name == "daemon":
            return pid
    return None


def cmd_up(args):
    if args.owner_pid and not alive(args.owner_pid):
        print(f"--owner-pid: owner process {args.owner_pid} is not running", file=sys.stderr)
        return 2
    layout = Layout(sandbox_dir(args.dir))
    running = _daemon_pid(layout)
    if running:
        # Already running (or still starting): wait for it rather than start a second one.
        started = time.monotonic()
        while not layout.ready.exists() and alive(running) and time.monotonic() - started < args.timeout:
            time.sleep(0.05)
        if layout.ready.exists() and alive(running):
            print(layout.env)
            return 0
    if _daemon_pid(layout) or PidDir(layout.pids).entries():
        # Leftovers of a sandbox that did not come up (or whose daemon died): clear them first.
        cmd_down(args, quiet=True)
    layout.create()
    for stale in (layout.ready, layout.failed):
        stale.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    # Built (or found in the cache) before the clock starts: a cold build takes minutes.
    from .cluster import controlplane, flagger
    try:
        daemon_args = ["--bin-dir", str(controlplane.binaries_dir(os.environ)),
                       "--flagger-bin-dir", str(flagger.binaries_dir(os.environ))]
        if args.owner_pid:
            daemon_args += ["--owner-pid", str(args.owner_pid)]
    except RuntimeError as exc:
        print(f"sandbox did not start: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    with open(layout.daemon_log, "ab") as logf:
        proc = subprocess.Popen([sys.executable, "-m", "kubesandbox.daemon", "--dir", str(layout.root), *daemon_args],
                                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                                start_new_session=True, cwd=str(layout.root))
    while time.monotonic() - started < args.timeout:
        if layout.ready.exists():
            if not args.quiet:
                print(f"sandbox ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
            print(layout.env)
            return 0
        if proc.poll() is not None or layout.failed.exists():
            break
        time.sleep(0.05)
    reason = layout.failed.read_text().strip() if layout.failed.exists() else "timed out waiting for the sandbox"
    print(f"sandbox did not start: {reason}; log: {layout.daemon_log}", file=sys.stderr)
    try:
        tail = layout.daemon_log.read_text().splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
    except OSError:
        pass
    cmd_down(args, quiet=True)
    return 1


def cmd_down(args, quiet=False):
    layout = Layout(sandbox_dir(args.dir))
    pids = PidDir(layout.pids)
    daemon = _daemon_pid(layout)
    if daemon:
        # The daemon stops its children itself; PID files cover whatever it could not.
        terminate_all([daemon], grace=15.0)
    leftovers = [pid for _, pid in pids.entries()]
    stuck = terminate_all(leftovers) if leftovers else []
    if stuck:
        print(f"processes did not exit: {stuck}", file=sys.stderr)
        return 1
    pids.clear()
    layout.ready.unlink(missing_ok=True)
    if not quiet:
        print(f"sandbox in {layout.root} stopped" if daemon or leftovers else f"no sandbox running in {layout.root}")
    return 0


def cmd_status(args):
    layout = Layout(sandbox_dir(args.dir))
    if not _daemon_pid(layout) or not layout.env_json.exists():
        print(f"no sandbox running in {layout.root}")
        return 1
    code, body = _control(layout, "GET", "/status")
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print(f"sandbox {layout.root}: {'ready' if body['ready'] else 'starting'} (pid {body['pid']}, "
              f"addresses {body['address_block']})")
        components = {**body.get("control_plane", {}), **body["components"]}
        width = max(11, *(len(name) for name in components))
        for name, comp in components.items():
            print(f"  {name:<{width}} {'running' if comp['running'] else 'stopped'} pid={comp['pid']}")
        for p in body["pods"]:
            print(f"  pod {p['namespace']}/{p['name']} ip={p['ip']} ready={p['ready']} pid={p['pid']} restarts={p['restarts']}")
        print(f"  env: {layout.env}")
    return 0 if code == 200 else 1


def cmd_fault(args):
    layout = Layout(sandbox_dir(args.dir))
    if args.action == "clear":
        code, body = _control(layout, "DELETE", "/faults")
    elif args.action == "show":
        code, body = _control(layout, "GET", "/faults")
    else:
        spec = {"error_rate": args.error_rate, "latency": args.latency, "drop_rate": args.drop_rate,
                "conflict_rate": args.conflict_rate, "retry_after": args.retry_after, "paths": args.paths}
        if args.error_codes:
            spec["error_codes"] = [int(c) for c in args.error_codes.split(",")]
        code, body = _control(layout, "PUT", "/faults", spec)
    print(json.dumps(body, indent=2))
    return 0 if code == 200 else 1


def cmd_requests(args):
    layout = Layout(sandbox_dir(args.dir))
    if args.clear:
        code, body = _control(layout, "DELETE", "/requests")
        print(json.dumps(body))
        return 0 if code == 200 else 1
    code, body = _control(layout, "GET", f"/requests?since={args.since}")
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        for e in body["entries"]:
            print(f"{e['index']:>7} {e['verb']:<7} {e['status']} {e['duration'] * 1000:8.1f}ms {e['path']}")
    return 0 if code == 200 else 1


def cmd_component(args):
    layout = Layout(sandbox_dir(args.dir))
    code, body = _control(layout, "POST", f"/components/{args.name}/{args.action}")
    print(json.dumps(body, indent=2))
    return 0 if code == 200 else 1


def find_pod_pid(layout, namespace, target):
    """PID of a pod given as NAME or deploy/NAME (the first ready pod of that Deployment)."""
    _, pods = _control(layout, "GET", "/pods")
    pods = [p for p in pods if p["namespace"] == namespace and p["pid"]]
    if target.startswith(("deploy/", "deployment/")):
        prefix = target.split("/", 1)[1] + "-"
        # Pods of Deployment X are named X-<template hash>-<suffix>; X-primary's are not X's.
        pods = [p for p in pods if p["name"].startswith(prefix) and p["name"][len(prefix):].count("-") == 1]
        pods.sort(key=lambda p: not p["ready"])
    else:
        pods = [p for p in pods if p["name"] == target]
    return pods[0]["pid"] if pods else None


def cmd_exec(args):
    """Runs a command in a pod's mount namespace: it sees the pod's /etc/hosts, like kubectl exec."""
    layout = Layout(sandbox_dir(args.dir))
    pid = find_pod_pid(layout, args.namespace, args.pod)
    if not pid or not alive(pid):
        print(f"no running pod {args.pod} in namespace {args.namespace}", file=sys.stderr)
        return 1
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    # The pod's mount namespace (its hosts file) and network namespace (its own address).
    return subprocess.call(["nsenter", "-t", str(pid), "-m", "-n", "--", *command])


def build_parser():
    parser = argparse.ArgumentParser(prog="kubesandbox")
    parser.add_argument("--dir", help="sandbox directory (default: $SANDBOX_DIR or .sandbox)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the sandbox and print the path of its env file")
    up.add_argument("--timeout", type=float, default=UP_TIMEOUT)
    up.add_argument("--quiet", action="store_true")
    up.add_argument("--owner-pid", type=int,
                    help="stop the sandbox by itself when this process ends (a test run's PID)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop every process of the sandbox").set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="show components and pods")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    fault = sub.add_parser("fault", help="inject API faults")
    fault.add_argument("action", choices=["set", "clear", "show"])
    fault.add_argument("--error-rate", type=float, default=0)
    fault.add_argument("--error-codes", help="comma-separated, default 500,503,429")
    fault.add_argument("--latency", type=float, default=0, help="seconds added to every API request")
    fault.add_argument("--drop-rate", type=float, default=0)
    fault.add_argument("--conflict-rate", type=float, default=0)
    fault.add_argument("--retry-after", type=int)
    fault.add_argument("--paths", help="regex: only matching request paths get faults")
    fault.set_defaults(func=cmd_fault)
    req = sub.add_parser("requests", help="show the API request log")
    req.add_argument("--since", type=int, default=0)
    req.add_argument("--json", action="store_true")
    req.add_argument("--clear", action="store_true")
    req.set_defaults(func=cmd_requests)
    comp = sub.add_parser("component", help="stop or start Traefik or Prometheus")
    comp.add_argument("name", choices=["traefik", "prometheus", "pushgateway"])
    comp.add_argument("action", choices=["stop", "start", "restart"])
    comp.set_defaults(func=cmd_component)
    ex = sub.add_parser("exec", help="run a command inside a pod (its /etc/hosts resolves Services)")
    ex.add_argument("-n", "--namespace", default="default")
    ex.add_argument("pod", help="pod name or deploy/NAME")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.set_defaults(func=cmd_exec)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
