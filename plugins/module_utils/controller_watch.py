# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether the ansible-playbook run that started this module is still there (private).

ansible-core's task workers call setsid(), so when ansible-playbook is killed (a cancelled or
killed AWX job, a SIGKILLed terminal) the worker and the module it runs live on. A module that
shifts traffic for minutes must not go on deciding for a run that can no longer act on its
result, nor hold the release lock against the next run. Each of this process's ancestors is
recorded with its parent when the module starts; once one of them has been re-parented or is
gone, the run that started the module has died.

The run may also die while the module is still starting (a second or more on a busy controller),
before anything is recorded. The worker is a fork of ansible-playbook, so it has the same command
line as its parent for as long as that parent lives: a worker whose parent runs something else
(init, a subreaper) was orphaned before the module started.

A module that waits (an analysis interval, a rollout) waits with ``ControllerWatch.sleep``, so
that it notices within a second and does not wake up to write for a dead run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)

# A module started by ansible-playbook through a local or SSH connection has a handful of
# ancestors (shell wrappers, the worker, the controller, an sshd or a job runner).
MAX_ANCESTORS = 32
# How often a waiting module looks at its ancestors.
POLL_SECONDS = 0.5


class RunGone(DeliveryError):
    """The ansible-playbook run that started this module is gone: stop before the next write."""


def _stat_field(pid, proc_root, index):
    """A numeric field of ``/proc/<pid>/stat`` counted from the state (0: state, 1: parent PID,
    3: session), or None when the process is gone or /proc cannot tell."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces or parentheses.
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return None


def _parent_of(pid, proc_root):
    """The parent PID of ``pid``, or None when the process is gone or /proc cannot tell."""
    return _stat_field(pid, proc_root, 1)


def _command_line(pid, proc_root):
    try:
        with open(os.path.join(proc_root, str(pid), "cmdline"), "rb") as handle:
            return handle.read().split(b"\0")
    except (IOError, OSError):
        return None


def _is_ansible_cli(command_line):
    """Whether a command line runs ansible-playbook (or ansible, ansible-pull, ...), directly or
    through its Python interpreter."""
    for word in (command_line or [])[:2]:
        name = os.path.basename(word.decode("utf-8", "replace"))
        if name == "ansible" or name.startswith("ansible-"):
            return True
    return False


def _orphaned_worker(ancestry, proc_root):
    """The PID of the task worker among ``ancestry`` when its ansible-playbook is already gone.

    The worker is the nearest ancestor that leads a session of its own (ansible-core's workers
    call setsid()) and runs ansible's command line; anything else there (an sshd session, an async
    wrapper) is not judged.
    """
    for pid, parent in ancestry:
        if _stat_field(pid, proc_root, 3) != pid:
            continue
        command_line = _command_line(pid, proc_root)
        parents_line = _command_line(parent, proc_root)
        if _is_ansible_cli(command_line) and parents_line is not None and parents_line != command_line:
            return pid
        return None
    return None


class ControllerWatch(object):
    """``watch()`` returns None while the starting run lives, else why the module should stop.

    Where /proc is not readable (not Linux), nothing is recorded and the watch never fires.
    """

    def __init__(self, pid=None, proc_root="/proc"):
        self.proc_root = proc_root
        self.ancestry = []
        pid = os.getpid() if pid is None else pid
        parent = _parent_of(pid, proc_root)
        while parent is not None and parent > 1 and len(self.ancestry) < MAX_ANCESTORS:
            grandparent = _parent_of(parent, proc_root)
            if grandparent is None:
                break
            self.ancestry.append((parent, grandparent))
            parent = grandparent
        self.orphaned_at_start = _orphaned_worker(self.ancestry, proc_root)

    def __call__(self):
        if self.orphaned_at_start is not None:
            return ("the ansible-playbook run that started it is gone (its worker, process {0}, was "
                    "orphaned before the module started)".format(self.orphaned_at_start))
        for pid, parent in self.ancestry:
            now = _parent_of(pid, self.proc_root)
            if now != parent:
                return ("the ansible-playbook run that started it is gone (process {0} {1})".format(
                    pid, "exited" if now is None else "was orphaned"))
        return None

    def check(self):
        """Raise RunGone once the starting run is gone."""
        reason = self()
        if reason:
            raise RunGone(reason)

    def sleep(self, seconds, sleep=time.sleep, clock=time.monotonic):
        """``time.sleep(seconds)`` that looks every POLL_SECONDS, and once more at the end, whether
        the starting run is gone, and then raises RunGone instead of returning."""
        deadline = clock() + seconds
        while True:
            self.check()
            left = deadline - clock()
            if left <= 0:
                return
            sleep(min(left, POLL_SECONDS))
