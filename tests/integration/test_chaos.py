"""The chaos run in its reduced form: releases killed at random points under 10% API faults converge.

scripts/chaos.py runs in this worker's sandbox, in a namespace of its own that the API faults are
aimed at, stops every process it started by PID and deletes the namespace at the end. Its releases
run as the collection's ServiceAccount; a kill is a SIGKILL of ansible-playbook's process group,
and a process of the killed run that keeps writing to the API fails the release. `make chaos` runs
the full 20 releases, in a sandbox of its own.
"""
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from pdtest.procs import tied
from pdtest.timeouts import guard

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("CHAOS_RUNS", "3"))


def test_releases_killed_under_api_faults_converge_on_the_next_run(sandbox):
    namespace = "chaos-{0}".format(uuid.uuid4().hex[:8])
    proc = subprocess.Popen(tied([sys.executable, str(ROOT / "scripts" / "chaos.py"), "--runs", str(RUNS),
                                  "--sandbox-env", str(sandbox.env_file), "--namespace", namespace]),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                            start_new_session=True)
    try:
        # Only a guard against a hung run: each release may also wait up to 90 s for the killed
        # run's processes (--survivor-wait), and reruns take minutes on a busy two-core machine.
        output = proc.communicate(timeout=guard(360 * RUNS + 300))[0]
    finally:
        if proc.poll() is None:
            # SIGTERM lets the script stop its processes and delete its namespace; the group kill
            # is the backstop.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    releases = re.findall(r"^release +\d+: .*$", output, re.M)
    assert len(releases) == RUNS, output
    assert all(line.endswith(": converged") for line in releases), output
    assert re.search(rf"^converged {RUNS}/{RUNS}$", output, re.M), output
    assert proc.returncode == 0, output
