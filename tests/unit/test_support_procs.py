"""pdtest.procs.tied: a process a test starts ends with the test process, even one that is killed."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from pdtest.procs import tied

# A stand-in for a pytest worker: it starts `sleep` (tied or not), says its PID, and waits.
PARENT = """
import subprocess, sys, time
cmd = {cmd!r}
child = subprocess.Popen(cmd, start_new_session=True)
print(child.pid, flush=True)
time.sleep(600)
"""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def child_after_parent_killed(cmd):
    """Start a parent that starts ``cmd``, SIGKILL the parent; whether ``cmd`` still runs 5 s later."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(cmd=cmd)], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        # setpriv sets the signal, then executes `sleep`: wait until it has, as a worker killed in
        # those first milliseconds leaves the child untied.
        deadline = time.monotonic() + 10
        while command_name(child) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(child) and command_name(child) == "sleep"
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        return alive(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.parametrize("is_tied, survives", [(True, False), (False, True)], ids=["tied", "not tied"])
def test_a_tied_child_ends_with_its_killed_parent_and_an_untied_one_does_not(is_tied, survives):
    cmd = ["sleep", "600"]
    assert child_after_parent_killed(tied(cmd) if is_tied else cmd) is survives


def test_tied_keeps_the_command_and_its_pid():
    proc = subprocess.Popen(tied(["sh", "-c", "echo $$"]), stdout=subprocess.PIPE, text=True)
    try:
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # setpriv executes the command in its own place: the PID a test stops is the command's.
    assert int(out) == proc.pid


def test_a_command_started_from_a_short_lived_thread_outlives_that_thread():
    # The parent-death signal follows the starting thread: a load a hook's request thread starts
    # must not end with that request.
    started = []

    def start():
        child = subprocess.Popen(tied(["sleep", "600"]))
        started.append(child)
        # the thread ends only once the command runs (as a request thread answers after its hook)
        deadline = time.monotonic() + 10
        while command_name(child.pid) != "sleep" and time.monotonic() < deadline:
            time.sleep(0.05)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    child = started[0]
    try:
        time.sleep(1)
        assert child.poll() is None and command_name(child.pid) == "sleep"
    finally:
        child.kill()
        child.wait()
