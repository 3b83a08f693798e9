# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # args_common.SIGNALS_ARG_SPEC
    DOCUMENTATION = r"""
options:
  event_webhook:
    description:
      - A URL that receives every Event about the Canary, as Flagger's C(-event-webhook) flag, in
        the payload of Flagger's event webhooks (C(name), C(namespace), C(phase), C(checksum),
        and C(eventMessage), C(eventType) and C(timestamp) in C(metadata)).
      - Used only for a Canary without webhooks of type C(event), which replace it, as in Flagger.
      - May carry a key in its query string, so it is never shown.
    type: str
  alert_providers:
    description:
      - Alert targets for a Canary whose C(spec.analysis.alerts) is empty, as Flagger's global
        notifier (its C(-slack-url) and similar flags); a Canary that lists AlertProviders is
        alerted through those only.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for this target in the results; defaults to O(alert_providers[].provider).
        type: str
      provider:
        description: The chat service, which decides the message's shape.
        type: str
        required: true
        choices: [slack, msteams, discord, rocket, gchat]
      url:
        description: The incoming-webhook URL (a secret).
        type: str
        required: true
      username:
        description: The sender's name shown in the channel.
        type: str
        default: flagger
      channel:
        description: The channel, for the services that take one.
        type: str
      token:
        description: A bearer token sent in the C(Authorization) header.
        type: str
      proxy:
        description: An HTTP proxy to send the alert through.
        type: str
      alert_severity:
        description:
          - The least severity this target receives, as a Canary's C(analysis.alerts[].severity).
            C(info) receives everything, C(warn) warnings and errors, C(error) only errors.
        type: str
        choices: [info, warn, error]
        default: info
  cluster_name:
    description: The cluster's name, sent as the C(Cluster) field of every alert (Flagger's C(-cluster-name)).
    type: str
"""
