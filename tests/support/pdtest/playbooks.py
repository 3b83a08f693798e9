"""ansible-playbook runs: the one way tests, benchmark and chaos start the collection's playbooks.

- ``ansible_env``: the environment of a run (quiet, no colour), against a sandbox or without one
- ``playbook_command``: the command line
- ``run_playbook`` / ``start_playbook``: a playbook of playbooks/ against the sandbox, to its end or
  in the background
- ``write_play``, ``run_tasks``: a play of a few tasks against the sandbox, results read from the
  json callback
- ``run_module``: one module task without a cluster, its registered result read back
- ``recap``, ``descendants``, ``kill_release``: reading and killing runs
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from .checkout import ROOT, VENV_BIN, collections_path
from .procs import tied
from .timeouts import guard

QUIET = {
    "ANSIBLE_FORCE_COLOR": "0",
    "ANSIBLE_NOCOLOR": "1",
    "ANSIBLE_LOCALHOST_WARNING": "false",
    "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
}


def ansible_env(sandbox=None, *, as_admin=False, kubeconfig=None, callback="default", **extra):
    """The environment ansible-playbook runs with.

    Against a sandbox, the collection runs as the least-privilege ServiceAccount its users apply
    (rbac/), not as the admin; installing CRDs is an administrator's job (``as_admin``).
    ``kubeconfig`` runs it as someone else. Without a sandbox the checkout is the collection
    (ANSIBLE_COLLECTIONS_PATH). ``callback`` is the stdout callback; ``extra`` adds variables.
    """
    if sandbox is None:
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path()))
    else:
        env = sandbox.process_env()  # the sandbox's variables, the venv's bin first in PATH
        if kubeconfig:
            env["KUBECONFIG"] = str(kubeconfig)
        elif not as_admin and sandbox.env.get("SANDBOX_COLLECTION_KUBECONFIG"):
            env["KUBECONFIG"] = sandbox.env["SANDBOX_COLLECTION_KUBECONFIG"]
    env.update(QUIET)
    env["ANSIBLE_STDOUT_CALLBACK"] = callback
    if callback != "default":
        env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    env.update(extra)
    return env


def playbook_command(playbook="canary.yml", *, extra_vars=None, check=False, inventory=None, args=()):
    """``ansible-playbook`` of the venv, tied to the caller (procs.tied); a bare ``playbook`` name is
    one of playbooks/."""
    path = Path(playbook)
    if not path.is_absolute() and len(path.parts) == 1:
        path = ROOT / "playbooks" / path
    cmd = [str(VENV_BIN / "ansible-playbook"), str(path)]
    if inventory:
        cmd += ["-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    return tied(cmd + list(args))


def run_playbook(sandbox, playbook="canary.yml", *, extra_vars=None, check=False, timeout=300, args=(),
                 as_admin=False, kubeconfig=None):
    """Run ``playbook`` to its end against the sandbox; the CompletedProcess (text output)."""
    return subprocess.run(playbook_command(playbook, extra_vars=extra_vars, check=check, args=args),
                          env=ansible_env(sandbox, as_admin=as_admin, kubeconfig=kubeconfig),
                          capture_output=True, text=True, timeout=guard(timeout), cwd=ROOT, check=False)


def start_playbook(sandbox, playbook="canary.yml", *, extra_vars=None, log_path=None):
    """Start ``playbook`` in a session of its own; its output goes to ``log_path``."""
    out = open(log_path, "w") if log_path else subprocess.DEVNULL  # pylint: disable=consider-using-with
    return subprocess.Popen(playbook_command(playbook, extra_vars=extra_vars), env=ansible_env(sandbox),
                            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)


def write_play(path, tasks, *, name="module test", hosts="localhost"):
    """A playbook of one play of ``tasks``, run on a local connection with the Python running the
    caller (the venv), written to ``path``."""
    path = Path(path)
    path.write_text(yaml.safe_dump([{
        "name": name, "hosts": hosts, "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": tasks,
    }], sort_keys=False))
    return path


def run_tasks(sandbox, tmp_path, tasks, check=False, name="play.yml", timeout=180):
    """Run ``tasks`` on localhost; returns ``(returncode, [result per task], stats)``.

    The json callback gives each task's result as the module returned it, so tests assert on
    return values rather than on log text.
    """
    playbook = write_play(Path(tmp_path) / name, tasks)
    done = subprocess.run(playbook_command(playbook, check=check), env=ansible_env(sandbox, callback="json"),
                          capture_output=True, text=True, timeout=guard(timeout), cwd=ROOT, check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook gave no JSON:\n{0}\n{1}".format(
            done.stdout[-3000:], done.stderr[-3000:]))
    results = [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]
    return done.returncode, results, report["stats"]["localhost"]


def run_module(tmp_path, module, args, check=False, extra_env=None):
    """One task of ``module`` without a cluster; returns (CompletedProcess of
    ``ansible-playbook -vvv``, the registered result)."""
    out = Path(tmp_path) / "result.json"
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "task under test", module: args, "register": "result", "ignore_errors": True},
        {"name": "save", "ansible.builtin.copy": {"content": "{{ result | to_json }}",
                                                  "dest": str(out)}, "check_mode": False},
    ]}]
    playbook = Path(tmp_path) / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    env = ansible_env()
    env.update(extra_env or {})
    done = subprocess.run(playbook_command(playbook, check=check, args=["-vvv"]), env=env,
                          capture_output=True, text=True, timeout=guard(300), check=False)
    return done, json.loads(out.read_text())


def recap(output):
    """The PLAY RECAP counters of localhost, e.g. {'ok': 5, 'changed': 0, 'failed': 0}."""
    for line in output.splitlines():
        if line.startswith("localhost") and "ok=" in line:
            return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}
    raise AssertionError("no PLAY RECAP line for localhost in:\n" + output[-3000:])


def descendants(pid):
    """Every process below ``pid``, read from /proc before anything is killed."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as handle:
                    children = handle.read().split()
            except FileNotFoundError:
                continue
            for child in map(int, children):
                found.append(child)
                todo.append(child)
    return found


def kill_release(proc):
    """SIGKILL a started ansible-playbook and everything it started, as a killed job pod would be.

    ansible-core's workers call setsid(), so killing the playbook's process group alone leaves the
    worker and the module it runs alive, still changing the cluster.
    """
    below = descendants(proc.pid)
    for pid in [proc.pid] + below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
