"""Bad revisions are rolled back after exactly `threshold` failed checks; users' traffic returns to the primary."""
import pytest

from pdtest.apps import deploy_loadtester, deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, write_canary
from pdtest.playbooks import run_playbook
from pdtest.sandbox import canary_events, get_json

ERROR_PERCENTAGE_TEMPLATE = """
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata:
  name: error-percentage
  namespace: {namespace}
spec:
  provider:
    type: prometheus
    address: {prometheus}
  query: |
    sum(rate(traefik_service_requests_total{{
      service=~"{{{{ namespace }}}}-{{{{ service }}}}-canary-[0-9]+@kubernetescrd",
      code=~"{{{{ variables.codes }}}}"}}[{{{{ interval }}}}]))
    /
    sum(rate(traefik_service_requests_total{{service=~"{{{{ namespace }}}}-{{{{ service }}}}-canary-[0-9]+@kubernetescrd"}}[{{{{ interval }}}}])) * 100
"""


@pytest.fixture
def podinfo(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    canary_file = write_canary(tmp_path, fast_canary(namespace))
    first = run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)})
    assert first.returncode == 0, first.stdout[-4000:]
    load = Load(sandbox, namespace, rps=30)
    try:
        yield canary_file
    finally:
        load.stop()


def assert_rolled_back(sandbox, namespace, result, threshold, halt_word):
    assert result.returncode != 0, "the play must fail after a rollback"
    events = canary_events(sandbox, namespace)
    # The first tick after the weight moves may find no series yet, which Flagger also counts as
    # a failed check, in its own words; the metric under test must be among the reasons.
    halts = [m for m in events if m.startswith((f"Halt podinfo.{namespace} advancement",
                                                "Halt advancement no values found for"))]
    assert len(halts) == threshold, events
    assert any(halt_word in m for m in halts), halts
    assert f"Rolling back podinfo.{namespace} failed checks threshold reached {threshold}" in events
    assert f"Canary failed! Scaling down podinfo.{namespace}" in events
    canary = get_json(sandbox, namespace, "canary", "podinfo")
    assert canary["status"]["phase"] == "Failed"
    # Flagger's rollback writes a fresh status: no failed checks, no iterations, weight 0.
    assert (canary["status"]["failedChecks"], canary["status"]["iterations"],
            canary["status"]["canaryWeight"]) == (0, 0, 0)
    assert "lastCheck" not in canary["status"]
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert versions_through_traefik(sandbox, namespace, 500) == {"4.0.5": 500}


def test_rollback_on_success_rate(sandbox, namespace, podinfo):
    set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_FAIL_RATE": "0.5"})

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert_rolled_back(sandbox, namespace, result, 2, "success rate")


def test_rollback_on_request_duration(sandbox, namespace, podinfo):
    set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_LATENCY": "0.7"})

    result = run_playbook(sandbox, extra_vars={"canary_file": str(podinfo)})

    assert_rolled_back(sandbox, namespace, result, 2, "request duration")


def test_rollback_on_metric_template(sandbox, namespace, podinfo, tmp_path):
    sandbox.apply(ERROR_PERCENTAGE_TEMPLATE.format(namespace=namespace, prometheus=sandbox.prometheus_url),
                  namespace=namespace)
    canary = fast_canary(namespace, threshold=3, metrics=[{
        "name": "error percentage",
        "templateRef": {"name": "error-percentage"},
        "templateVariables": {"codes": "5.."},
        "interval": "15s",
        "thresholdRange": {"max": 5},
    }])
    path = write_canary(tmp_path, canary, "template.yaml")
    set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_FAIL_RATE": "0.5"})

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert_rolled_back(sandbox, namespace, result, 3, "error percentage")


def test_rollback_when_canary_never_becomes_ready(sandbox, namespace, podinfo, tmp_path):
    canary = fast_canary(namespace, progressDeadlineSeconds=6)
    path = write_canary(tmp_path, canary, "deadline.yaml")
    set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_NEVER_READY": "true"})

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode != 0
    assert "progressDeadlineSeconds" in result.stdout
    events = canary_events(sandbox, namespace)
    assert f"Canary failed! Scaling down podinfo.{namespace}" in events
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"
    assert get_json(sandbox, namespace, "deployment", "podinfo")["spec"]["replicas"] == 0
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}


def test_a_canary_left_scaled_up_is_still_waited_for_before_traffic_shifts(sandbox, namespace, podinfo, tmp_path):
    # The canary already has its replicas, as after a run killed while it waited for them or a
    # scale-up whose wait met an API fault and was retried; its pods never become ready.
    canary = fast_canary(namespace, progressDeadlineSeconds=6)
    path = write_canary(tmp_path, canary, "deadline.yaml")
    set_image(sandbox, namespace, "4.0.6", env={"SANDBOX_NEVER_READY": "true"})
    replicas = get_json(sandbox, namespace, "deployment", "podinfo-primary")["spec"]["replicas"]
    sandbox.kubectl("-n", namespace, "scale", "deployment/podinfo", f"--replicas={replicas}")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode != 0
    assert "not ready within progressDeadlineSeconds (6s)" in result.stdout, result.stdout[-4000:]
    events = canary_events(sandbox, namespace)
    assert not [m for m in events if "canary weight" in m], events
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Failed"
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}


def test_failing_pre_rollout_webhook_counts_as_failed_check(sandbox, namespace, podinfo, tmp_path):
    canary = fast_canary(namespace, threshold=2, webhooks=[{
        "name": "acceptance-test", "type": "pre-rollout",
        "url": f"http://flagger-loadtester.{namespace}/", "timeout": "5s",
        "metadata": {"type": "bash", "cmd": "exit 1"},
    }])
    deploy_loadtester(sandbox, namespace)
    path = write_canary(tmp_path, canary, "prerollout.yaml")
    set_image(sandbox, namespace, "4.0.6")

    result = run_playbook(sandbox, extra_vars={"canary_file": str(path)})

    assert result.returncode != 0
    canary_obj = get_json(sandbox, namespace, "canary", "podinfo")
    assert canary_obj["status"]["phase"] == "Failed"
    # The two failed checks show in the rollback's reason; the rollback then resets the count.
    assert canary_obj["status"]["failedChecks"] == 0
    events = canary_events(sandbox, namespace)
    assert f"Rolling back podinfo.{namespace} failed checks threshold reached 2" in events, events
    assert not [m for m in events if "canary weight" in m]
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}


def test_closed_confirm_promotion_gate_does_not_promote(sandbox, namespace, podinfo, tmp_path):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class ClosedGate(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(403)
            self.end_headers()
            self.wfile.write(b"gate closed")

        def log_message(self, *args):
            pass

    gate = ThreadingHTTPServer(("127.0.0.1", 0), ClosedGate)
    thread = threading.Thread(target=gate.serve_forever, daemon=True)
    thread.start()
    try:
        canary = fast_canary(namespace, max_weight=10, step_weight=10, webhooks=[{
            "name": "ask-a-human", "type": "confirm-promotion",
            "url": f"http://127.0.0.1:{gate.server_address[1]}/gate/check",
        }])
        path = write_canary(tmp_path, canary, "gate.yaml")
        set_image(sandbox, namespace, "4.0.6")

        result = run_playbook(sandbox, extra_vars={"canary_file": str(path), "canary_confirm_timeout": 4})
    finally:
        gate.shutdown()
        gate.server_close()

    assert result.returncode != 0
    assert "confirm-promotion" in result.stdout
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.5"
    assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.5": 200}
