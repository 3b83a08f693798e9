"""Processes tests start, tied to the process that starts them.

A test stops what it starts by PID, also when it fails; but a pytest worker that is killed (an
interrupted ``pytest -n``, a CI timeout) runs no ``finally``. ``tied`` makes the kernel end such a
child with its parent: util-linux ``setpriv --pdeathsig TERM`` sets the parent-death signal, then
executes the command in its own place (same PID, so stopping it by PID is unchanged).

The signal comes when the *thread* that started the child ends, not the process. So ``tied``
ties only what the main thread starts (where pytest, also an xdist worker, runs the tests); a
command started from any other thread, such as an HTTP server's request thread that a test's hook
starts a load from, is left untied, and the test stops it by PID as before. A parent killed in the
few milliseconds before setpriv has set the signal leaves that child untied.
"""
import shutil
import threading

SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


def tied(cmd):
    """``cmd`` (a list) run so that it gets SIGTERM once the process that started it is gone;
    unchanged when called from a thread other than the main one (see above)."""
    cmd = [str(part) for part in cmd]
    if threading.current_thread() is not threading.main_thread():
        return cmd
    return [SETPRIV, "--pdeathsig", "TERM", "--"] + cmd
