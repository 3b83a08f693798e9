# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files named in task arguments are read on the controller, by the collection's action plugins.

Private to this collection. A playbook names ``canary_file: podinfo-canary.yaml`` relative to
itself or to a role's ``files/``, as it would for ``ansible.builtin.copy``'s ``src``; the module
may run on another host (``delegate_to``, a remote play host, an execution environment) where that
path means nothing. So the action plugin finds and reads the file here and hands the module the
content, and the module never opens a path it was given.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    load_canary_file,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    DeliveryError,
)


def controller_path(action, option, path):
    """The controller path of ``path``: absolute, or searched like ``copy``'s ``src``."""
    if not isinstance(path, str) or not path:
        raise DeliveryError("{0} must be the path of a file; got {1!r}".format(option, path))
    try:
        return action._find_needle("files", path)
    except AnsibleError as exc:
        searched = " ".join(to_text(exc.message).split())
    # A playbook imported from a collection (AWX's wrapper playbook: import_playbook:
    # progressive.delivery.canary) searches the collection; the user's files are in the project,
    # the directory ansible-playbook runs in.
    in_project = os.path.abspath(path)
    if os.path.isfile(in_project):
        return in_project
    raise DeliveryError("{0} {1} was not found on the controller: {2}; nor is it {3}".format(
        option, path, searched, in_project))


class ControllerFilesAction(ActionBase):
    """Runs the module of the same name once ``read_files`` has turned file options into content."""

    def read_files(self, args):
        """Return the module arguments with every file option replaced by what the file holds."""
        raise NotImplementedError

    def adjust_result(self, result, given):
        """Put back what the module cannot know about where its input came from."""
        return result

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = True
        result = super(ControllerFilesAction, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        given = dict(self._task.args)
        try:
            args = self.read_files(dict(given))
        except DeliveryError as exc:
            # Before anything reaches the cluster, and naming the option, as the module would.
            result.update(failed=True, changed=False, msg=to_text(exc))
            return result

        wrap_async = self._task.async_val and not self._connection.has_native_async
        result = merge_hash(result, self._execute_module(
            module_name=self._task.resolved_action, module_args=args, task_vars=task_vars,
            wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return self.adjust_result(result, given)


def read_canary_file(action, args):
    """``canary_file`` becomes ``canary``, the manifest it holds; both given is left to the module to refuse."""
    if args.get("canary_file") is None or args.get("canary") is not None:
        return args
    args["canary"] = load_canary_file(controller_path(action, "canary_file", args.pop("canary_file")))
    return args


class CanaryFileAction(ControllerFilesAction):
    """For the modules that take a Canary as ``canary_file``, ``canary`` or by name."""

    def read_files(self, args):
        return read_canary_file(self, args)
