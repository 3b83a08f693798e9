#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, progressive.delivery contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: metric_check
short_description: Run one metric gate against a metrics provider, with a threshold range or canary against primary
version_added: 0.1.0
author:
  - Progressive Delivery maintainers (@progressive-delivery)
description:
  - Runs one query against a metrics provider and compares the value with O(threshold_range), the
    way one entry of a Flagger Canary's C(analysis.metrics) does.
  - Built-in checks and O(query) ask a Prometheus-compatible provider. A C(MetricTemplate) asks the
    provider its C(spec.provider.type) names, as in Flagger - C(prometheus), C(influxdb),
    C(graphite), C(datadog), C(newrelic), C(stackdriver), C(dynatrace), C(splunk), C(keptn),
    C(cloudwatch) - or C(json), our generic JSON web
    provider (an HTTP GET or POST and a JMESPath expression). The collection's
    C(docs/providers.md) shows a template for each.
  - With O(compare) instead of O(threshold_range), the same Prometheus query is run for the
    canary and the primary Service as two range queries over O(interval), and the canary is judged
    against the primary with a two-sided Mann-Whitney U test and an allowed effect size (see the
    judge guide). The result then has RV(p_value) and RV(effect_size), and RV(verdict) is C(pass),
    C(high), C(low) or C(no_data).
  - The query comes from exactly one of O(metric) (a built-in Traefik check), O(query) (your own
    PromQL), O(template) (a Flagger C(MetricTemplate) manifest or file), or O(template_ref)
    (a C(MetricTemplate) read from the cluster).
  - 'A failed check is not a failed task. The task returns RV(passed) and RV(verdict), so it can be
    repeated with C(until: result.passed) and the role can count failed checks. The task fails only
    when the check cannot be run at all (bad input, provider unreachable, query rejected); it then
    returns RV(verdict=error) with the provider''s own message.'

  - Built-in checks select the canary Service's series in Traefik's metrics by the label
    C(service="<namespace>-<service>-<port>@kubernetescrd"). With O(port) set the label is matched
    exactly; without it any numeric port matches. A Service named C(podinfo-canary) is never
    confused with C(podinfo-canary-extra). Give O(port) when the TraefikService refers to the port
    by name.
  - >-
    Placeholders in a query or template (C({{ name }}), C({{ namespace }}), C({{ target }}),
    C({{ service }}), C({{ ingress }}), C({{ route }}), C({{ interval }}), C({{ variables.X }}), and
    our own C({{ compared_service }}), the Service measured) are
    replaced by this module, not by Jinja or Go templates. Names must be DNS labels, the interval a
    Prometheus duration, and variables may only contain letters, digits and C(_ . : / @ + -), so no
    value can change the structure of the PromQL.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - progressive.delivery.prometheus_provider
  - progressive.delivery.attributes
  - progressive.delivery.attributes.reads
attributes:
  check_mode:
    details: The module only reads, so it queries the provider in check mode too.
options:
  metric:
    description:
      - A built-in Traefik check.
      - C(request-success-rate) is the share of non-5xx responses of the canary Service over
        O(interval), in percent.
      - C(request-duration) is the 99th percentile of the canary Service's request duration over
        O(interval), in milliseconds.
    type: str
    choices: [request-success-rate, request-duration]
  query:
    description:
      - A PromQL query returning a single value. Template placeholders are replaced first.
    type: str
  template:
    description:
      - A Flagger C(flagger.app/v1beta1) C(MetricTemplate), as a mapping or as the path of a YAML
        file.
      - A file is read on the controller; a relative path is searched for as
        P(ansible.builtin.copy#module)'s O(ansible.builtin.copy#module:src) is (the role's C(files/),
        the playbook's C(files/) and directory), then in the directory C(ansible-playbook) runs in.
    type: raw
  template_ref:
    description:
      - A C(MetricTemplate) to read from the cluster, like Flagger's C(templateRef).
      - The template's C(spec.provider.secretRef), if any, is read from the template's namespace
        and handed to its provider, never logged or returned. For C(prometheus) its C(address),
        C(token), C(username) and C(password) keys are used unless the corresponding O(provider)
        options are set; the other providers read the keys Flagger reads (C(datadog_api_key) and
        C(datadog_application_key) for Datadog, for example).
      - A missing Secret, a Secret without the keys the provider reads, an unreachable provider and
        a query without data each fail the check with a message naming the template and its
        provider.
    type: dict
    suboptions:
      name:
        description: Name of the MetricTemplate.
        type: str
        required: true
      namespace:
        description: Namespace of the MetricTemplate. Defaults to O(namespace).
        type: str
  template_variables:
    description:
      - Values for C({{ variables.X }}) placeholders, like Flagger's C(templateVariables).
    type: dict
    default: {}
  name:
    description:
      - Name of the check, used in RV(msg). Defaults to the built-in check's or the template's name.
    type: str
  threshold_range:
    description:
      - The range the value must be in for the check to pass.
      - One of O(threshold_range) and O(compare) is required.
    type: dict
    suboptions:
      min:
        description: Lowest passing value.
        type: float
      max:
        description: Highest passing value.
        type: float
  interval:
    description:
      - Time window of the query, as a Prometheus duration (C(30s), C(1m), C(1h30m)).
      - With O(compare), the window both range queries cover, ending now.
    type: str
    default: 1m
  compare:
    description:
      - Judge the canary against the primary instead of against a threshold range (our own
        check; Flagger has none like it).
      - The query is run once per Service as a range query over O(interval) at
        O(compare.resolution). Built-in checks select each Service's series; templates and
        queries see the Service as C({{ compared_service }}) and the resolution as
        C({{ interval }}).
    type: dict
    suboptions:
      direction:
        description:
          - Which difference is worse. C(higher-is-worse) suits latency and error ratios,
            C(lower-is-worse) a success rate, C(either) anything that must not move.
        type: str
        choices: [higher-is-worse, lower-is-worse, either]
        default: higher-is-worse
      max_ratio:
        description:
          - Allowed effect as a ratio of the medians, at least 1; C(1.1) lets the canary's
            median be up to 10% worse than the primary's.
        type: float
      max_difference:
        description:
          - Allowed effect as an absolute difference of the medians, in the query's unit; a
            floor for small values such as error ratios.
        type: float
      alpha:
        description:
          - Significance level of the Mann-Whitney U test; a difference with a larger p-value
            passes.
        type: float
        default: 0.05
      resolution:
        description:
          - Step of the range queries, and the rate window of built-in checks, as a whole number
            of seconds (C(10s)). At least twice Prometheus's scrape interval.
        type: str
        default: 10s
  primary_service:
    description:
      - With O(compare), the Service the canary is compared with.
      - Defaults to C(<service>-primary).
    type: str
  namespace:
    description:
      - Namespace of the application; C({{ namespace }}) in templates.
    type: str
  target:
    description:
      - Name of the target Deployment; C({{ target }}) and C({{ name }}) in templates, and the
        default of O(service), O(ingress) and O(route), as in Flagger.
    type: str
  service:
    description:
      - Name of the apex Service, as Flagger's C(spec.service.name); C({{ service }}) in templates.
      - Defaults to O(target), as in Flagger.
      - Built-in checks measure the canary Service named after it, C(<service>-canary).
    type: str
  canary_service:
    description:
      - Name of the Service whose traffic built-in checks measure.
      - Defaults to C(<service>-canary), the canary Service of a Canary whose
        C(spec.service.name) is O(service).
    type: str
  port:
    description:
      - Port of the canary Service as used by the TraefikService (number or name). Makes built-in
        checks match Traefik's C(service) label exactly.
    type: raw
  ingress:
    description:
      - Value of C({{ ingress }}) in templates. Defaults to O(target), as in Flagger.
    type: str
  route:
    description:
      - Value of C({{ route }}) in templates. Defaults to O(target), as in Flagger.
    type: str
  fail_on_no_data:
    description:
      - Whether a query that returns no series, or NaN, counts as a failed check
        (RV(passed=false)), as it does in Flagger.
      - RV(verdict) is C(no_data) either way.
    type: bool
    default: true
notes:
  - 'A canary that has received no traffic in O(interval) has no data: the success rate is 0/0.
    Make sure traffic reaches the canary (a load test webhook, real users) before judging it.'
  - Ansible templates C({{ }}) in task arguments before the module sees them. A O(query) or an
    inline MetricTemplate that uses placeholders must be protected, by tagging the string
    C(!unsafe) or wrapping it in C({% raw %}...{% endraw %}); a template given as a file or through
    O(template_ref) needs nothing.
  - 'To wait for a metric, repeat the task: C(until: result.passed) with C(retries) and C(delay).
    After the last retry Ansible fails the task; add C(failed_when: false) when you want to count
    failed checks yourself instead.'
seealso:
  - module: progressive.delivery.canary_weight
  - name: Flagger metrics analysis
    description: Flagger's description of MetricTemplates and built-in checks.
    link: https://docs.flagger.app/usage/metrics
requirements:
  - python >= 3.9
  - requests >= 2.28
  - kubernetes >= 24.2.0 (only for O(template_ref) and templates of the C(keptn) provider)
  - jmespath >= 1.0 (only for templates of the C(json) provider)
  - cryptography (only for templates of the C(stackdriver) provider)
  - scipy >= 1.7 (only for O(compare))
"""

EXAMPLES = r"""
- name: Canary success rate must be at least 99%
  progressive.delivery.metric_check:
    metric: request-success-rate
    namespace: test
    service: podinfo         # measures the Service podinfo-canary
    port: 80
    interval: 1m
    threshold_range:
      min: 99
    provider:
      address: http://prometheus.monitoring:9090

- name: Wait until the p99 latency is under 500 ms (up to 10 tries, 30 s apart)
  progressive.delivery.metric_check:
    metric: request-duration
    namespace: test
    target: podinfo
    threshold_range:
      max: 500
  register: latency
  until: latency.passed
  retries: 10
  delay: 30

- name: Use a Flagger MetricTemplate stored in the cluster, with variables
  progressive.delivery.metric_check:
    template_ref:
      name: not-found-percentage
      namespace: test
    namespace: test
    target: podinfo
    template_variables:
      code: "404"
    threshold_range:
      max: 5
    provider:
      address: https://thanos.example.com
      bearer_token: "{{ thanos_token }}"
  register: not_found
  failed_when: false

- name: A Datadog MetricTemplate in the cluster; its Secret holds datadog_api_key and datadog_application_key
  progressive.delivery.metric_check:
    template_ref:
      name: datadog-error-rate
    namespace: test
    target: podinfo
    interval: 1m
    threshold_range:
      max: 1

- name: Is the canary slower than the primary? At most 10% in median, by a Mann-Whitney test
  progressive.delivery.metric_check:
    metric: request-duration
    namespace: test
    service: podinfo         # compares podinfo-canary with podinfo-primary
    port: 80
    interval: 2m
    compare:
      direction: higher-is-worse
      max_ratio: 1.1
      resolution: 10s
  register: latency_vs_primary

- name: A custom query; raw keeps Ansible from templating the module's own placeholders
  progressive.delivery.metric_check:
    name: error budget
    query: '{% raw %}sum(rate(http_errors_total{namespace="{{ namespace }}"}[{{ interval }}])){% endraw %}'
    namespace: test
    interval: 5m
    threshold_range:
      max: 1
"""

RETURN = r"""
value:
  description: The measured value; C(null) when there was no data.
  returned: with O(threshold_range)
  type: float
  sample: 99.82
passed:
  description: Whether the check passed (false for C(fail), for C(error), and by default for C(no_data)).
  returned: always
  type: bool
  sample: true
verdict:
  description:
    - C(pass), C(fail), C(no_data) or C(error).
    - With O(compare), C(pass), C(high), C(low), C(no_data) or C(error).
  returned: always
  type: str
  sample: fail
msg:
  description: What was measured, in Flagger's words.
  returned: always
  type: str
  sample: success rate 53.42% < 99%
metric:
  description: Name of the check.
  returned: success
  type: str
  sample: request-success-rate
query:
  description: The query that was sent (PromQL, or the template provider's query), after rendering.
  returned: when the query could be built
  type: str
  sample: sum(rate(traefik_service_requests_total{service="test-podinfo-canary-80@kubernetescrd"}[1m]))
threshold_range:
  description: The threshold range that was applied.
  returned: with O(threshold_range)
  type: dict
  sample: {"min": 99}
p_value:
  description: Two-sided p-value of the Mann-Whitney U test; C(null) without data.
  returned: with O(compare)
  type: float
  sample: 0.00012
effect_size:
  description: The canary's median over the primary's; C(null) without data or when the primary's
    median is 0.
  returned: with O(compare)
  type: float
  sample: 1.27
difference:
  description: The canary's median minus the primary's.
  returned: with O(compare)
  type: float
  sample: 10.5
canary_median:
  description: Median of the canary's values.
  returned: with O(compare)
  type: float
  sample: 49.5
primary_median:
  description: Median of the primary's values.
  returned: with O(compare)
  type: float
  sample: 39.0
canary_samples:
  description: How many values the canary's range query returned.
  returned: with O(compare)
  type: int
  sample: 12
primary_samples:
  description: How many values the primary's range query returned.
  returned: with O(compare)
  type: int
  sample: 12
queries:
  description: The PromQL sent for each Service, after rendering.
  returned: with O(compare)
  type: dict
  sample: {"canary": "histogram_quantile(...)", "primary": "histogram_quantile(...)"}
"""


from ansible.module_utils.basic import missing_required_lib

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    PROMETHEUS_PROVIDER_ARG_SPEC,
)
from ansible_collections.progressive.delivery.plugins.module_utils.comparison import (
    plan_comparison,
    run_comparison,
)
from ansible_collections.progressive.delivery.plugins.module_utils.errors import (
    InvalidInput,
)
from ansible_collections.progressive.delivery.plugins.module_utils.judge import (
    DEFAULT_ALPHA,
    DIRECTIONS,
    HIGHER_IS_WORSE,
    NO_DATA,
)
from ansible_collections.progressive.delivery.plugins.module_utils.k8s_client import (
    HAS_KUBERNETES,
    get_dynamic_client,
    get_object,
    get_resource,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metric_templates import (
    METRIC_TEMPLATE_API_VERSION,
)
from ansible_collections.progressive.delivery.plugins.module_utils.metrics import (
    plan_check,
    run_check,
)
from ansible_collections.progressive.delivery.plugins.module_utils.module import (
    module_argument_spec,
    run_module,
)
from ansible_collections.progressive.delivery.plugins.module_utils.requests_compat import (
    HAS_REQUESTS,
)


def argument_spec():
    return module_argument_spec(
        PROMETHEUS_PROVIDER_ARG_SPEC,
        metric=dict(type="str", choices=["request-success-rate", "request-duration"]),
        query=dict(type="str"),
        template=dict(type="raw"),
        template_ref=dict(
            type="dict",
            options=dict(name=dict(type="str", required=True), namespace=dict(type="str")),
        ),
        template_variables=dict(type="dict", default={}),
        name=dict(type="str"),
        threshold_range=dict(
            type="dict",
            options=dict(min=dict(type="float"), max=dict(type="float")),
        ),
        compare=dict(
            type="dict",
            options=dict(
                direction=dict(type="str", default=HIGHER_IS_WORSE, choices=list(DIRECTIONS)),
                max_ratio=dict(type="float"),
                max_difference=dict(type="float"),
                alpha=dict(type="float", default=DEFAULT_ALPHA),
                resolution=dict(type="str", default="10s"),
            ),
        ),
        primary_service=dict(type="str"),
        interval=dict(type="str", default="1m"),
        namespace=dict(type="str"),
        target=dict(type="str"),
        service=dict(type="str"),
        canary_service=dict(type="str"),
        port=dict(type="raw"),
        ingress=dict(type="str"),
        route=dict(type="str"),
        fail_on_no_data=dict(type="bool", default=True),
    )


class ClusterReader(object):
    """Reads MetricTemplates and provider Secrets, connecting only when first needed."""

    def __init__(self, module):
        self.module = module
        self._client = None

    def object(self, api_version, kind, namespace, name):
        """The object, or None when it does not exist."""
        if not HAS_KUBERNETES:
            self.module.fail_json(msg=missing_required_lib("kubernetes"))
        if self._client is None:
            self._client = get_dynamic_client(self.module)
        return get_object(get_resource(self._client, api_version, kind), namespace, name)

    def _get(self, api_version, kind, namespace, name):
        obj = self.object(api_version, kind, namespace, name)
        if obj is None:
            raise InvalidInput("{0} {1}/{2} not found".format(kind, namespace, name))
        return obj

    def template(self, namespace, name):
        return self._get(METRIC_TEMPLATE_API_VERSION, "MetricTemplate", namespace, name)

    def secret(self, namespace, name):
        return self._get("v1", "Secret", namespace, name)


def template_path_not_read(path):
    # The action plugin reads a template file on the controller and hands over its content.
    raise InvalidInput("template {0} was not read on the controller; run metric_check as a task, "
                       "where its action plugin reads the file".format(path))


def run(module):
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    reader = ClusterReader(module)
    if module.params["compare"]:
        return run_compare(module, reader)
    plan = plan_check(
        module.params,
        load_template_ref=reader.template,
        read_secret=reader.secret,
        load_template_file=template_path_not_read,
        read_object=reader.object,
    )
    return run_check(plan, module.params["threshold_range"], module.params["fail_on_no_data"])


def run_compare(module, reader):
    comparison = module.params["compare"]
    plans = plan_comparison(module.params, comparison, load_template_ref=reader.template,
                            read_secret=reader.secret, load_template_file=template_path_not_read)
    result = run_comparison(plans, comparison, module.params["interval"], plans["canary"].name)
    if result["verdict"] == NO_DATA and not module.params["fail_on_no_data"]:
        result["passed"] = True
    return result


def main():
    run_module(
        run, argument_spec(),
        mutually_exclusive=[("metric", "query", "template", "template_ref"),
                            ("threshold_range", "compare")],
        required_one_of=[("metric", "query", "template", "template_ref"),
                         ("threshold_range", "compare")],
        check_k8s=False,
    )


if __name__ == "__main__":
    main()
