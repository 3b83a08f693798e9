"""metric_check against the sandbox's real Prometheus, which scrapes the real Traefik."""
import copy
import subprocess
import time

import yaml

from pdtest.apps import deploy_pair, install_crds
from pdtest.checkout import ROOT, VENV_BIN
from pdtest.manifests import host_for
from pdtest.playbooks import ansible_env, run_tasks
from pdtest.procs import tied
from pdtest.sandbox import wait_until

CANARY_ONLY = {"podinfo-primary": 0, "podinfo-canary": 100}


def canary_requests_seen(sandbox, namespace):
    series = sandbox.prometheus_query(
        'sum(traefik_service_requests_total{{service="{0}-podinfo-canary-80@kubernetescrd"}})'.format(namespace))
    return float(series[0]["value"][1]) if series else 0.0


def send_canary_traffic(sandbox, namespace, n, path="/"):
    """Send n requests through Traefik and wait until Prometheus has scraped all that reached the
    canary. A few requests go first so the series exists before the bulk: rate() only counts
    increases between two scrapes."""
    def first_requests_scraped():
        sandbox.traffic_split(host_for(namespace), 2)
        return canary_requests_seen(sandbox, namespace) >= 1

    wait_until(first_requests_scraped, timeout=30, what="the canary's first requests in Prometheus")
    seen = canary_requests_seen(sandbox, namespace)
    counts = sandbox.traffic_split(host_for(namespace), n, path=path)
    wait_until(lambda: canary_requests_seen(sandbox, namespace) >= seen + sum(counts.values()), timeout=30,
               what="all requests in Prometheus")
    time.sleep(2.5)  # two more scrapes, so the counter's last value is inside the window
    return counts


def warm_up_codes(sandbox, namespace, paths_by_code):
    """Make Prometheus see a series per response code before the measured traffic, because rate()
    misses whatever a series counted before its first scrape."""
    def all_codes_scraped():
        for path in paths_by_code.values():
            sandbox.traffic_split(host_for(namespace), 1, path=path)
        series = sandbox.prometheus_query(
            'traefik_service_requests_total{{service="{0}-podinfo-canary-80@kubernetescrd"}}'.format(namespace))
        return set(paths_by_code) <= {s["metric"].get("code") for s in series}

    wait_until(all_codes_scraped, timeout=30, what="a scraped series per response code")
    time.sleep(1.2)


def check_task(namespace, **args):
    base = {"namespace": namespace, "target": "podinfo", "port": 80, "interval": "1m"}
    base.update(args)
    return {"name": "metric gate", "progressive.delivery.metric_check": base, "register": "result"}


def test_healthy_canary_passes_the_success_rate_gate_in_an_until_loop(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights=CANARY_ONLY)
    send_canary_traffic(sandbox, namespace, 200)
    task = check_task(namespace, metric="request-success-rate", threshold_range={"min": 99})
    task.update({"until": "result.passed", "retries": 10, "delay": 1})

    rc, results, _stats = run_tasks(sandbox, tmp_path, [task])

    assert rc == 0, [r.get("msg") for r in results]
    result = results[0]
    assert result["passed"] is True and result["verdict"] == "pass"
    assert result["value"] >= 99
    assert result["msg"].startswith("success rate 100.00%")
    assert 'service="{0}-podinfo-canary-80@kubernetescrd"'.format(namespace) in result["query"]


def test_canary_answering_ten_percent_500s_fails_near_90(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights=CANARY_ONLY, canary_env={"SANDBOX_FAIL_RATE": "0.1"})
    # Both series (200 and 500) must exist in Prometheus before the measured traffic, or rate()
    # misses what the 500 series counted before its first scrape and the rate reads too high.
    warm_up_codes(sandbox, namespace, {"200": "/status/200", "500": "/status/500"})
    counts = send_canary_traffic(sandbox, namespace, 600)
    assert 20 <= counts[500] <= 110, counts  # the app really failed about 10%

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check_task(namespace, metric="request-success-rate", threshold_range={"min": 99})])

    assert rc == 0, results  # a failed gate is a result, not a failed task
    result = results[0]
    assert result["passed"] is False and result["verdict"] == "fail"
    assert 85 <= result["value"] <= 95, result
    assert result["msg"] == "success rate {0:.2f}% < 99%".format(result["value"])


def test_slow_canary_fails_the_request_duration_gate_in_milliseconds(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights=CANARY_ONLY, canary_env={"SANDBOX_LATENCY": "0.3"})
    send_canary_traffic(sandbox, namespace, 20)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check_task(namespace, metric="request-duration", threshold_range={"max": 200})])

    assert rc == 0, [r.get("msg") for r in results]
    result = results[0]
    # The unit is what is checked, not the speed of a shared machine: 0.3 s of latency is at least
    # 250 in milliseconds (0.3 in seconds would pass the gate), and Traefik's largest finite bucket
    # (5 s) bounds a p99 in milliseconds at 5000 (in microseconds it would be 300000 or more).
    assert result["verdict"] == "fail" and 250 <= result["value"] <= 5000, result
    assert result["msg"] == "request duration {0:.0f}ms > 200ms".format(result["value"])


def test_canary_without_traffic_reports_no_data_and_fails_by_default(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)  # 100% primary: the canary never sees a request
    sandbox.traffic_split(host_for(namespace), 20)

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check_task(namespace, metric="request-success-rate", threshold_range={"min": 99}),
        dict(check_task(namespace, metric="request-success-rate", threshold_range={"min": 99},
                        fail_on_no_data=False), register="lenient"),
    ])

    assert rc == 0, [r.get("msg") for r in results]
    assert results[0]["verdict"] == "no_data" and results[0]["passed"] is False
    assert results[0]["value"] is None
    assert "no values found" in results[0]["msg"]
    assert results[1]["verdict"] == "no_data" and results[1]["passed"] is True


NOT_FOUND_TEMPLATE = {
    "apiVersion": "flagger.app/v1beta1",
    "kind": "MetricTemplate",
    "metadata": {"name": "code-percentage"},
    "spec": {
        "provider": {"type": "prometheus", "address": "http://flagger-prometheus.traefik:9090"},
        "query": (
            'sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-{{ service }}-canary-[0-9]+@kubernetescrd",'
            'code="{{ variables.code }}"}[{{ interval }}]))'
            ' / sum(rate(traefik_service_requests_total{service=~"{{ namespace }}-{{ service }}-canary-[0-9]+@kubernetescrd"}'
            '[{{ interval }}])) * 100'),
    },
}


def test_metric_template_with_variables_from_the_cluster_and_from_a_file(sandbox, namespace, tmp_path):
    install_crds(sandbox)
    deploy_pair(sandbox, namespace, weights=CANARY_ONLY)
    sandbox.apply(yaml.safe_dump(NOT_FOUND_TEMPLATE), namespace=namespace)
    # The file writes the same query in Go's other forms, as Flagger renders them.
    go_forms = copy.deepcopy(NOT_FOUND_TEMPLATE)
    go_forms["spec"]["query"] = go_forms["spec"]["query"].replace(
        'code="{{ variables.code }}"', 'code="\n  {{- index variables "code" -}}\n"{{/* the code */}}')
    template_file = tmp_path / "code-percentage.yaml"
    template_file.write_text(yaml.safe_dump(go_forms))
    warm_up_codes(sandbox, namespace, {"200": "/", "404": "/status/404"})
    for _round in range(3):
        sandbox.traffic_split(host_for(namespace), 20)
        sandbox.traffic_split(host_for(namespace), 5, path="/status/404")
        time.sleep(1.2)
    time.sleep(2.5)
    # The template's in-cluster address is unreachable from here, as it would be from a laptop.
    provider = {"address": sandbox.prometheus_url}

    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check_task(namespace, template_ref={"name": "code-percentage"}, template_variables={"code": "404"},
                   threshold_range={"max": 5}, provider=provider),
        dict(check_task(namespace, template=str(template_file), template_variables={"code": "404"},
                        threshold_range={"max": 50}, provider=provider), register="from_file"),
    ])

    assert rc == 0, [r.get("msg") for r in results]
    by_ref, from_file = results
    assert by_ref["verdict"] == "fail" and 10 < by_ref["value"] < 30, by_ref["msg"]  # 15 of 75 is 20%
    assert by_ref["msg"] == "code-percentage {0:.2f} > 5".format(by_ref["value"])
    assert 'code="404"' in by_ref["query"] and "{{" not in by_ref["query"]
    assert from_file["verdict"] == "pass" and abs(from_file["value"] - by_ref["value"]) < 5, from_file["msg"]
    assert from_file["query"] == by_ref["query"]


def test_prometheus_address_falls_back_to_the_environment(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace, weights=CANARY_ONLY)
    send_canary_traffic(sandbox, namespace, 30)

    # PROMETHEUS_URL comes from the sandbox env that run_tasks passes to ansible-playbook.
    rc, results, _stats = run_tasks(sandbox, tmp_path, [
        check_task(namespace, metric="request-success-rate", threshold_range={"min": 90})])

    assert rc == 0 and results[0]["verdict"] == "pass", results


def test_bearer_token_never_appears_in_verbose_output(sandbox, namespace, tmp_path):
    deploy_pair(sandbox, namespace)
    token = "tkn-8c1f0e2d9b7a4e55-do-not-log"
    header_secret = "hdr-2b4c6d8e0f1a3c5e-do-not-log"
    playbook = tmp_path / "token.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "vars": {"ansible_python_interpreter": str(VENV_BIN / "python")},
        "tasks": [
            {"progressive.delivery.metric_check": {
                "metric": "request-success-rate", "namespace": namespace, "target": "podinfo",
                "threshold_range": {"min": 99},
                "provider": {"address": sandbox.prometheus_url, "bearer_token": token,
                             "headers": {"X-Scope-OrgID": header_secret}}}},
            {"progressive.delivery.metric_check": {
                "query": "sum(rate(foo[1m]", "threshold_range": {"min": 99},
                "provider": {"address": sandbox.prometheus_url, "bearer_token": token}},
             "ignore_errors": True},
        ],
    }]))

    done = subprocess.run(tied([VENV_BIN / "ansible-playbook", "-vvv", playbook]), env=ansible_env(sandbox),
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)

    output = done.stdout + done.stderr
    assert "metric_check" in output and "ok=2" in output, output[-3000:]
    assert token not in output
    assert header_secret not in output
