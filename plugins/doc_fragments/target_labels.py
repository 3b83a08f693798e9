# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # args_common.TARGET_LABELS_ARG_SPEC
    DOCUMENTATION = r"""
options:
  selector_labels:
    description:
      - The pod labels the primary can be keyed on, in order of preference, as Flagger's
        C(-selector-labels) flag. The first of them in the target's C(spec.selector.matchLabels)
        becomes the primary's selector with the value C(<value>-primary), the Services' selector,
        and the key by which topology spread constraints and pod anti-affinity terms that select
        the target are made to select the primary.
      - A target whose selector has none of them is refused, naming the list.
    type: list
    elements: str
    default: [app, name, app.kubernetes.io/name]
  include_label_prefix:
    description:
      - Prefixes of the target's labels (and, at promotion, annotations) that the primary takes
        over, as Flagger's C(-include-label-prefix) flag; C(*) takes them all.
      - By default none is copied, as in Flagger, so labels that tools such as Helm or Flux own on
        the target are not put on the primary. Flux's C(toolkit.fluxcd.io) keys are never copied.
    type: list
    elements: str
    default: []
"""
