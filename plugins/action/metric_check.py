# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads a MetricTemplate file given as O(template) on the controller before metric_check runs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.progressive.delivery.plugins.module_utils.canary_source import (
    load_yaml_documents,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    parse_metric_template,
)
from ansible_collections.progressive.delivery.plugins.plugin_utils.controller_files import (
    ControllerFilesAction,
    DeliveryError,
    controller_path,
)


def load_template_file(path, given):
    """The first MetricTemplate of the file, checked here so that errors name the user's file."""
    source = "template file {0}".format(given)
    for document in load_yaml_documents(path, what="template file"):
        if isinstance(document, dict) and document.get("kind") == "MetricTemplate":
            parse_metric_template(document, source)
            return document
    raise DeliveryError("{0} holds no MetricTemplate".format(source))


class ActionModule(ControllerFilesAction):

    def read_files(self, args):
        template = args.get("template")
        if isinstance(template, str):
            args["template"] = load_template_file(controller_path(self, "template", template), template)
        return args
