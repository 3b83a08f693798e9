# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # args_common.PUSHGATEWAY_ARG_SPEC
    DOCUMENTATION = r"""
options:
  pushgateway:
    description:
      - A Prometheus Pushgateway that receives Flagger's own metrics (C(flagger_canary_status),
        C(flagger_canary_weight), C(flagger_canary_total), C(flagger_canary_duration_seconds),
        C(flagger_canary_metric_analysis), C(flagger_canary_successes_total) and
        C(flagger_canary_failures_total)) with Flagger's names, labels and values, pushed at the
        moments Flagger's controller updates them, so dashboards and alert rules written for
        Flagger keep working.
      - Each Canary's series are one group (grouping labels C(job), C(namespace) and C(name), the
        target's name); C(flagger_canary_total) is a group per namespace. Prometheus must scrape
        the Pushgateway with C(honor_labels=true) to keep those labels.
      - Counters and the duration histogram continue from what the Pushgateway holds.
      - A push that fails is a warning, never a failed task.
      - Not set (the default) or without O(pushgateway.url), nothing is pushed.
    type: dict
    suboptions:
      url:
        description:
          - The Pushgateway's base URL, such as C(http://pushgateway.monitoring:9091), without a
            query string (the group's path is appended to it). Messages show it without credentials.
          - Empty pushes nothing.
        type: str
      job:
        description: The C(job) grouping label (Flagger's metrics are usually scraped as C(flagger)).
        type: str
        default: flagger
      headers:
        description: HTTP headers sent with every request (may carry credentials, so never shown).
        type: dict
      username:
        description: User for HTTP basic authentication.
        type: str
      password:
        description: Password for HTTP basic authentication.
        type: str
      bearer_token:
        description: A bearer token sent in the C(Authorization) header.
        type: str
      ca_cert:
        description: A CA certificate file to verify an C(https) Pushgateway with.
        type: path
      validate_certs:
        description: Whether to verify the Pushgateway's TLS certificate.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for each request.
        type: float
        default: 5
"""
