#!/usr/bin/env python3
"""Chaos run: releases killed at random points under API faults must converge on the next run.

For each release the script changes podinfo's image, starts playbooks/canary.yml while the API
answers 10% of the requests about the app's namespace with 500/503/429, kills ansible-playbook's
process group with SIGKILL at a random moment (a crash: the task workers ansible-core detached with
setsid() are not in that group and live on), waits for every process of the killed run to end,
then runs the playbook again without faults and checks that the app converged:

- no process of the killed run (found by a marker in its environment) kept writing to the API: a
  module that had begun its task may send its writes within --write-grace seconds of the kill,
  nothing later. The release line says how long those processes outlived the kill (and when by
  more than --survivor-grace seconds) and lists their writes; one still alive --survivor-wait
  seconds after the kill is killed by its PID before the rerun starts;
- one version answers 100% of the requests sent through Traefik (all 200);
- the Canary's status agrees with it (Succeeded with the new version on the primary, or Failed
  with the previous one; canaryWeight 0) and the TraefikService routes everything to the primary;
- no canary pods run: the target Deployment is at 0 replicas and no pod labelled app=podinfo is left;
- the release Lease (podinfo-canary-lock) is released.

The playbooks run as the collection's least-privilege ServiceAccount (the sandbox's
SANDBOX_COLLECTION_KUBECONFIG, through the API proxy), as users run releases; the script's own
checks use the sandbox's admin KUBECONFIG.

It starts its own sandbox and stops it, and every process it starts, by PID at the end. With
--sandbox-env it uses a running sandbox instead (the test suite passes its worker's, so the chaos
run costs no control plane of its own), puts the app in --namespace and deletes only that
namespace at the end.

    .venv/bin/python scripts/chaos.py              # 20 releases
    .venv/bin/python scripts/chaos.py --runs 3     # the reduced form make test runs

Prints one line per release (when the run was killed, how long its processes outlived the kill,
the rerun) and finally ``converged N/<runs>``; exits 0 only when all converged.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pdtest.apps import install_crds
from pdtest.checkout import ROOT
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, podinfo_docs
from pdtest.playbooks import ansible_env, playbook_command
from pdtest.sandbox import Sandbox, start_sandbox, stop_sandbox

DEFAULT_NAMESPACE = "chaos"
LEASE = "podinfo-canary-lock"
# Every ansible-playbook the script starts has this variable in its environment, with a value of its
# own; the processes it starts inherit it, so they are found in /proc whatever their parent is now.
MARKER = "PROGRESSIVE_DELIVERY_CHAOS_RUN"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def log(message):
    print(message, flush=True)


class ChaosSandbox:
    """A sandbox of our own (started and stopped through its CLI, which stops its processes by
    PID), its faults aimed at the app's namespace, and what the checks read of the app."""

    def __init__(self, directory, env_file=None, namespace=DEFAULT_NAMESPACE):
        self.dir = Path(directory)
        self.env_file = env_file
        self.namespace = namespace
        self.handle = None

    def up(self):
        if self.env_file:
            # A running sandbox (a test worker's): used, not started, and left running by down().
            self.handle = Sandbox(self.env_file)
        else:
            self._start()
        if not self.handle.env.get("SANDBOX_COLLECTION_KUBECONFIG"):
            raise SystemExit("the sandbox has no SANDBOX_COLLECTION_KUBECONFIG: the releases run as the "
                             "collection's ServiceAccount")

    def _start(self):
        # The real control plane starts in about a minute, several on a busy two-core machine.
        try:
            self.handle = Sandbox(start_sandbox(self.dir, "--timeout", "600", timeout=660))
        except RuntimeError as exc:
            raise SystemExit(str(exc))

    def down(self):
        if self.env_file:
            self.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
            return None
        return stop_sandbox(self.dir)

    def playbook_env(self, marker):
        """The environment of a release: the collection's least-privilege ServiceAccount (rbac/), as
        users and the integration tests run it, and the run's marker."""
        return ansible_env(self.handle, **{MARKER: marker})

    def kubectl(self, *args, stdin=None, check=True):
        """kubectl as the sandbox's admin (the script's own checks and set-up)."""
        return self.handle.kubectl(*args, input=stdin, check=check, timeout=120)

    def get(self, *what):
        done = self.kubectl("-n", self.namespace, "get", *what, "-o", "json", check=False)
        return json.loads(done.stdout) if done.returncode == 0 else None

    def set_faults(self, rate):
        # Only the app's namespace: Traefik's cluster-wide watches and discovery stay healthy, as
        # the faults are meant for the release, not for the sandbox's own machinery.
        self.handle.set_faults(error_rate=rate, error_codes=[500, 503, 429], retry_after=1,
                               paths="/namespaces/{0}/".format(self.namespace))

    def clear_faults(self):
        self.handle.clear_faults()

    def request_log_index(self):
        return self.handle.last_request_index()

    def writes_since(self, index, started_after):
        """The API writes about the app's namespace logged after ``index`` that were sent after
        ``started_after`` (a time.time()); the log has each request's completion time and duration."""
        return [e for e in self.handle.requests(since=index)
                if e.get("method") in WRITE_METHODS and "/namespaces/{0}/".format(self.namespace) in e["path"]
                and e["time"] - e["duration"] > started_after]

    def versions(self, n=50):
        return versions_through_traefik(self.handle, self.namespace, n)


class Processes:
    """Every process the script starts, so that each is stopped by its PID, whatever happens."""

    def __init__(self):
        self.running = []

    def start(self, cmd, **kw):
        kw.setdefault("start_new_session", True)
        proc = subprocess.Popen(cmd, **kw)
        self.running.append(proc)
        return proc

    def kill(self, proc, sig=signal.SIGKILL):
        if proc.poll() is None:
            # start_new_session made the process its own group leader: its children go with it.
            os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self, marker_prefix=None):
        for proc in self.running:
            self.kill(proc)
            try:  # the group too: a module process the playbook forked may outlive its parent
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if marker_prefix:  # and whatever a playbook started in a session of its own
            kill_marked(marked_processes(marker_prefix), marker_prefix)


def _environ(pid):
    try:
        with open("/proc/{0}/environ".format(pid), "rb") as handle:
            return handle.read().split(b"\0")
    except OSError:  # gone, or not ours to read
        return []


def marked_processes(marker_prefix):
    """{pid: command line} of the live processes whose environment has MARKER with a value that
    starts with ``marker_prefix`` (a zombie's environment reads empty: it is not counted)."""
    wanted = "{0}={1}".format(MARKER, marker_prefix).encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        if any(var.startswith(wanted) for var in _environ(entry)):
            try:
                with open("/proc/{0}/cmdline".format(entry), "rb") as handle:
                    cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            found[int(entry)] = cmdline
    return found


def kill_marked(pids, marker_prefix):
    """SIGKILL each of ``pids`` that still carries the marker (a PID reused since is left alone)."""
    wanted = "{0}={1}".format(MARKER, marker_prefix).encode()
    for pid in pids:
        if any(var.startswith(wanted) for var in _environ(pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def short_command(cmdline):
    """What a survivor runs, in a word: the module of an AnsiballZ wrapper, else the program (an
    ansible-playbook is one of its task workers: the playbook itself was killed)."""
    words = cmdline.split()
    for word in words:
        if "AnsiballZ_" in word:
            return word.rpartition("AnsiballZ_")[2].rpartition(".py")[0]
    if len(words) > 1 and Path(words[0]).name.startswith("python"):
        words = words[1:]
    return Path(words[0]).name if words else "(exiting)"


def canary(namespace):
    return fast_canary(namespace, interval="2s", threshold=3, max_weight=30, step_weight=10, progress_deadline=60)


class Chaos:
    def __init__(self, args, sandbox, processes, workdir, marker_prefix):
        self.args = args
        self.sandbox = sandbox
        self.processes = processes
        self.workdir = workdir
        self.marker_prefix = marker_prefix
        self.random = random.Random(args.seed)
        self.canary_file = workdir / "canary.yaml"
        self.canary_file.write_text(yaml.safe_dump(canary(self.sandbox.namespace)))
        self.full_run_seconds = []
        self.lease_seen = 0
        self.kill_points = []
        self.outlived = []

    def playbook_cmd(self):
        extra = {"canary_file": str(self.canary_file)}
        # A killed run cannot release its Lease; a short one lets the next run take over soon.
        extra.update(canary_lock_duration=self.args.lease_duration, canary_lock_wait=self.args.lease_duration * 3)
        return playbook_command("canary.yml", extra_vars=extra)

    def start_playbook(self, name, out):
        """ansible-playbook as a process group of its own, with the marker of this run (its name)."""
        return self.processes.start(self.playbook_cmd(), env=self.sandbox.playbook_env(self.marker_prefix + name),
                                    stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)

    def run_to_end(self, name):
        started = time.monotonic()
        with open(self.workdir / (name + ".log"), "w") as out:
            proc = self.start_playbook(name, out)
            try:
                proc.wait(self.args.run_timeout)
            except subprocess.TimeoutExpired:
                self.processes.kill(proc)
        return proc.returncode, time.monotonic() - started

    def run_and_kill(self, name):
        """Start a release under API faults and SIGKILL its process group after a random time.

        Returns when it was killed (None when it finished first) and what its processes did after
        the kill. The kill point is drawn from the start of the run up to the shortest whole release
        seen so far, so nearly every run is killed somewhere between its first and its last API write.
        """
        window = min(self.full_run_seconds) if self.full_run_seconds else 40.0
        kill_after = self.random.uniform(0.5, window)
        started = time.monotonic()
        self.sandbox.set_faults(self.args.fault_rate)
        try:
            with open(self.workdir / (name + ".log"), "w") as out:
                proc = self.start_playbook(name, out)
                try:
                    proc.wait(kill_after)
                    if proc.returncode == 0:
                        self.full_run_seconds.append(time.monotonic() - started)
                    return None, None  # finished before its kill point
                except subprocess.TimeoutExpired:
                    log_index = self.sandbox.request_log_index()
                    killed = time.time()
                    # A crash: the whole process group at once, as the kernel's OOM killer, a
                    # killed container or a SIGKILLed terminal session would. Task workers that
                    # called setsid() are not in it.
                    self.processes.kill(proc, signal.SIGKILL)
        finally:
            self.sandbox.clear_faults()
        after = self.after_the_kill(self.marker_prefix + name, killed, log_index)
        if self.sandbox.get("lease", LEASE):
            self.lease_seen += 1
        return kill_after, after

    def after_the_kill(self, marker, killed, log_index):
        """Wait until no process of the killed run is left (up to --survivor-wait seconds, then
        SIGKILL each by PID) and collect the API writes they sent after the kill."""
        deadline = time.monotonic() + self.args.survivor_wait
        commands, last_seen = {}, {}
        alive = marked_processes(marker)
        while alive:
            commands.update(alive)
            now = time.time()
            last_seen.update((pid, now) for pid in alive)
            if time.monotonic() > deadline:
                kill_marked(alive, marker)
                break
            time.sleep(0.2)
            alive = marked_processes(marker)
        # How long each kind of process outlived the kill (the longest of its kind).
        outlived = {}
        for pid, cmd in commands.items():
            name = short_command(cmd)
            outlived[name] = max(outlived.get(name, 0.0), last_seen[pid] - killed)
        # Nothing else writes to the app's namespace until the rerun starts: every write sent
        # after the kill came from a process of the killed run.
        writes = self.sandbox.writes_since(log_index, killed)
        return {"outlived": outlived, "count": len(commands), "killed": alive, "writes": writes,
                "killed_at": killed}

    def describe_after(self, after):
        """The words of the release line about the killed run's processes, and the problems found.

        A process of the killed run that is still alive more than --survivor-grace seconds after
        the kill is reported in the line. Writes it sends are listed; one sent more than
        --write-grace seconds after the kill means a process kept working for a dead run (a
        module that had begun its task may finish its writes), and the release did not converge.
        """
        if not after["outlived"]:
            return "no process outlived it", []
        longest = max(after["outlived"].values())
        words = "its processes outlived it by {0:.1f}s{1}: {2}{3}".format(
            longest, ", MORE THAN {0:g}s".format(self.args.survivor_grace) if longest > self.args.survivor_grace else "",
            ", ".join("{0} {1:.1f}s".format(name, seconds) for name, seconds in sorted(
                after["outlived"].items(), key=lambda item: -item[1])),
            ", killed by PID" if after["killed"] else "")
        if after["writes"]:
            words += "; {0} API writes after the kill: {1}".format(len(after["writes"]), ", ".join(
                "{0} {1} +{2:.1f}s".format(w["method"], w["path"].rpartition("/namespaces/{0}/".format(self.sandbox.namespace))[2],
                                           w["time"] - w["duration"] - after["killed_at"])
                for w in after["writes"]))
        late = [w for w in after["writes"]
                if w["time"] - w["duration"] - after["killed_at"] > self.args.write_grace]
        problems = []
        if late:
            problems.append("the killed run kept writing: {0} API writes more than {1:g}s after the kill".format(
                len(late), self.args.write_grace))
        return words, problems

    def converged(self, tag, previous):
        """Problems found with the app's state; empty when the release converged."""
        problems = []
        seen = self.sandbox.versions(self.args.samples)
        if len(seen) != 1 or next(iter(seen)) not in (tag, previous):
            problems.append("Traefik answered {0}".format(dict(seen)))
        serving = next(iter(seen)) if len(seen) == 1 else None
        status = (self.sandbox.get("canary", "podinfo") or {}).get("status") or {}
        phase = status.get("phase")
        primary = self.sandbox.get("deployment", "podinfo-primary") or {}
        primary_tag = primary.get("spec", {}).get("template", {}).get("spec", {}).get(
            "containers", [{}])[0].get("image", "").rpartition(":")[2]
        if status.get("canaryWeight", 0) != 0:
            problems.append("status.canaryWeight is {0}".format(status.get("canaryWeight")))
        if phase == "Succeeded" and not (serving == tag == primary_tag):
            problems.append("status Succeeded but serving {0}, primary {1}, released {2}".format(
                serving, primary_tag, tag))
        elif phase == "Failed" and not (serving == previous == primary_tag):
            problems.append("status Failed but serving {0}, primary {1}, previous {2}".format(
                serving, primary_tag, previous))
        elif phase not in ("Succeeded", "Failed"):
            problems.append("status.phase is {0}".format(phase))
        route = self.sandbox.get("traefikservices.traefik.io", "podinfo") or {}
        weights = {s["name"]: s.get("weight") for s in route.get("spec", {}).get("weighted", {}).get("services", [])}
        if {k: v for k, v in weights.items() if v} != {"podinfo-primary": 100}:
            problems.append("TraefikService weights {0}".format(weights))
        target = self.sandbox.get("deployment", "podinfo") or {}
        if target.get("spec", {}).get("replicas") != 0:
            problems.append("canary Deployment at {0} replicas".format(target.get("spec", {}).get("replicas")))
        deadline = time.monotonic() + 10
        while True:  # a deleted pod's process lingers briefly, like a terminating pod
            pods = (self.sandbox.get("pods", "-l", "app=podinfo") or {}).get("items", [])
            if not pods or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if pods:
            problems.append("canary pods still running: {0}".format([p["metadata"]["name"] for p in pods]))
        lease = self.sandbox.get("lease", LEASE)
        if lease and (lease.get("spec") or {}).get("holderIdentity"):
            problems.append("Lease still held by {0}".format(lease["spec"]["holderIdentity"]))
        return problems

    def run(self):
        sandbox = self.sandbox
        install_crds(sandbox.handle)
        namespace = sandbox.namespace
        sandbox.kubectl("create", "namespace", namespace)
        sandbox.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(podinfo_docs(namespace)))
        sandbox.kubectl("-n", namespace, "rollout", "status", "deployment/podinfo", "--timeout=120s")
        load = Load(sandbox.handle, namespace, rps=self.args.rps, seconds=24 * 3600, start=self.processes.start).proc
        code, _seconds = self.run_to_end("initialise")
        if code != 0:
            raise SystemExit("the first run (initialisation) failed; see {0}".format(self.workdir / "initialise.log"))
        previous = "4.0.5"
        converged = 0
        for index in range(1, self.args.runs + 1):
            tag = "5.{0}.0".format(index)
            sandbox.kubectl("-n", namespace, "set", "image", "deployment/podinfo",
                            "podinfod=stefanprodan/podinfo:" + tag)
            killed_at, after = self.run_and_kill("release-{0}-killed".format(index))
            outlived, problems = self.describe_after(after) if after else ("", [])
            if after:
                self.kill_points.append(killed_at)
                self.outlived.append(max(after["outlived"].values() or [0.0]))
            code, seconds = self.run_to_end("release-{0}-rerun".format(index))
            problems += self.converged(tag, previous)
            if not problems:
                converged += 1
            serving = sandbox.versions(5).most_common(1)[0][0]
            log("release {0:2d}: {1} killed {2}, rerun exit {3} in {4:.0f}s, serving {5}: {6}".format(
                index, tag, "after {0:.1f}s ({1})".format(killed_at, outlived) if killed_at is not None
                else "never (finished first)",
                code, seconds, serving, "converged" if not problems else "NOT converged: " + "; ".join(problems)))
            if serving in (tag, previous):
                previous = serving
        self.processes.kill(load, signal.SIGTERM)
        if self.kill_points:
            log("killed {0} of {1} runs, between {2:.1f}s and {3:.1f}s in; their processes outlived the kill by "
                "at most {4:.1f}s, by more than {5:g}s at {6} of the kills".format(
                    len(self.kill_points), self.args.runs, min(self.kill_points), max(self.kill_points),
                    max(self.outlived), self.args.survivor_grace,
                    len([s for s in self.outlived if s > self.args.survivor_grace])))
        log("Lease held at {0} of the kills (each taken over and released by the rerun)".format(self.lease_seen))
        log("converged {0}/{1}".format(converged, self.args.runs))
        return converged == self.args.runs


def _terminate(signum, _frame):
    raise KeyboardInterrupt("signal {0}".format(signum))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="number of releases (default 20)")
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of API requests failed (default 0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the kill points (default: random)")
    parser.add_argument("--rps", type=int, default=20, help="steady load through Traefik during the run")
    parser.add_argument("--samples", type=int, default=50, help="requests sent through Traefik per check")
    parser.add_argument("--lease-duration", type=int, default=20, help="Lease duration passed to the role")
    parser.add_argument("--run-timeout", type=int, default=600, help="seconds a rerun may take")
    parser.add_argument("--survivor-grace", type=float, default=5.0,
                        help="seconds the processes of a killed run may outlive it before the release line "
                             "says so (default 5)")
    parser.add_argument("--write-grace", type=float, default=5.0,
                        help="seconds after the kill in which a module that had begun its task may still "
                             "send its writes (default 5); a later write fails the release")
    parser.add_argument("--survivor-wait", type=float, default=90.0,
                        help="seconds to wait for them before the rerun, then they are killed by PID (default 90)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, sandbox)")
    parser.add_argument("--sandbox-env", default=None,
                        help="the env file of a running sandbox to use instead of starting one; it is left "
                             "running, and only the namespace is deleted afterwards")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                        help="the app's namespace, created by the script; API faults are aimed at it only "
                             "(default chaos)")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    log("chaos: {0} releases, {1:.0%} API faults, seed {2}".format(args.runs, args.fault_rate, args.seed))

    # SIGTERM (a test's timeout, a cancelled CI job) unwinds like Ctrl-C, so the finally below still
    # stops the sandbox and every process by PID.
    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    sandbox = ChaosSandbox(workdir / "sandbox", env_file=args.sandbox_env, namespace=args.namespace)
    processes = Processes()
    # Unique to this script's run; each playbook adds its own name.
    marker_prefix = "{0}-{1:08x}-".format(os.getpid(), random.randrange(1 << 32))
    ok = False
    try:
        sandbox.up()
        ok = Chaos(args, sandbox, processes, workdir, marker_prefix).run()
    finally:
        processes.stop_all(marker_prefix)
        sandbox.down()
        if args.keep or not ok:
            log("logs kept in {0}".format(workdir))
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
