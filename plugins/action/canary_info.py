# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads canary_file and metric_template_files on the controller before canary_info runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.plugin_utils.controller_files import (
    CanaryFileAction,
    DeliveryError,
    controller_path,
    read_canary_file,
)


class ActionModule(CanaryFileAction):

    def read_files(self, args):
        args = read_canary_file(self, args)
        files = args.pop("metric_template_files", None) or []
        if not isinstance(files, list):
            raise DeliveryError("metric_template_files must be a list of file paths; got {0!r}".format(files))
        if files:
            # Imported only when needed: it brings the Kubernetes client along.
            from ansible_collections.progressive.delivery.plugins.module_utils.detection import (
                _templates_from_files,
            )

            paths = [controller_path(self, "metric_template_files entry", path) for path in files]
            from_files = list(_templates_from_files(paths).values())
            args["metric_templates"] = from_files + list(args.get("metric_templates") or [])
        return args

    def adjust_result(self, result, given):
        if given.get("canary_file") is not None and given.get("canary") is None and result.get("source") == "dict":
            result["source"] = "file"
        return result
