"""Processes tests start, tied to the process that starts them.

A test stops what it starts by PID, also when it fails; but a pytest worker that is killed (an
interrupted ``pytest -n``, a CI timeout) runs no ``finally``. ``tied`` makes the kernel end such a
child with its parent: util-linux ``setpriv --pdeathsig TERM`` sets the parent-death signal, then
executes the command in its own place (same PID, so stopping it by PID is unchanged).

The signal comes when the *thread* that started the child ends: start tied processes from a
thread that outlives them (the test's own, or one that waits for the child). A parent killed in
the few milliseconds before setpriv has set the signal leaves that child untied.
"""
import shutil

SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


def tied(cmd):
    """``cmd`` (a list) run so that it gets SIGTERM once the process that started it is gone."""
    return [SETPRIV, "--pdeathsig", "TERM", "--"] + [str(part) for part in cmd]
