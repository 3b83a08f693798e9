"""Run a few module tasks through ansible-playbook against the sandbox and read their results."""
import json
import subprocess
import sys

import yaml

from lifecycle import ROOT, VENV_BIN, playbook_env


def run_tasks(sandbox, tmp_path, tasks, check=False, name="play.yml", timeout=180):
    """Run ``tasks`` on localhost; returns ``(returncode, [result per task], stats)``.

    The json callback gives each task's result as the module returned it, so tests assert on
    return values rather than on log text.
    """
    playbook = tmp_path / name
    playbook.write_text(yaml.safe_dump([{
        "name": "module test", "hosts": "localhost", "connection": "local",
        "gather_facts": False, "tasks": tasks,
        # the implicit localhost runs modules with the Python running the tests (the venv)
        "vars": {"ansible_python_interpreter": sys.executable},
    }]))
    env = playbook_env(sandbox)
    env["ANSIBLE_STDOUT_CALLBACK"] = "json"
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    cmd = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
    if check:
        cmd.append("--check")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          check=False)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook gave no JSON:\n{0}\n{1}".format(
            done.stdout[-3000:], done.stderr[-3000:]))
    results = [task["hosts"]["localhost"] for task in report["plays"][0]["tasks"]]
    return done.returncode, results, report["stats"]["localhost"]
