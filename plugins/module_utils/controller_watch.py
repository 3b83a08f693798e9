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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

# A module started by ansible-playbook through a local or SSH connection has a handful of
# ancestors (shell wrappers, the worker, the controller, an sshd or a job runner).
MAX_ANCESTORS = 32


def _parent_of(pid, proc_root):
    """The parent PID of ``pid``, or None when the process is gone or /proc cannot tell."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # The command name (field 2) is in parentheses and may contain spaces or parentheses.
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
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

    def __call__(self):
        for pid, parent in self.ancestry:
            now = _parent_of(pid, self.proc_root)
            if now != parent:
                return ("the ansible-playbook run that started it is gone (process {0} {1})".format(
                    pid, "exited" if now is None else "was orphaned"))
        return None
