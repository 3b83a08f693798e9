"""A Canary whose Service is named apart from its target (and whose own name is a third one).

Deployment `cart-api`, `spec.service.name: cart`, Canary `cart-release`: Flagger names the apex,
`-primary` and `-canary` Services and the TraefikService after `cart`, the primary Deployment after
`cart-api`, and words its events with the Canary's or the target's name depending on the event.
One whole life of such an app is driven here, with traffic checked through Traefik after each part:
initialise, promote, a rolled-back release, an abort of a release in flight, a manual promotion.
"""
import pytest

from pdtest.apps import deploy_podinfo, set_image
from pdtest.load import Load, versions_through_traefik
from pdtest.manifests import fast_canary, host_for, write_canary
from pdtest.playbooks import kill_release, run_playbook, start_playbook
from pdtest.sandbox import canary_events, get_json, wait_until

TARGET = "cart-api"
SERVICE = "cart"
CANARY = "cart-release"


def traefik_entries(sandbox, namespace):
    """{service: weight} of the TraefikService as stored in the cluster."""
    spec = get_json(sandbox, namespace, "traefikservices.traefik.io", SERVICE)["spec"]
    return {entry["name"]: entry.get("weight") for entry in spec["weighted"]["services"]}


def selector(sandbox, namespace, service):
    return get_json(sandbox, namespace, "service", service)["spec"]["selector"]


def replicas(sandbox, namespace, deployment):
    return get_json(sandbox, namespace, "deployment", deployment)["spec"].get("replicas")


def phase(sandbox, namespace):
    return get_json(sandbox, namespace, "canary", CANARY).get("status", {}).get("phase")


def canary_series_requests(sandbox, namespace):
    """Requests Traefik counted for the Service `cart-canary`, by its exact metric label, over the
    last minutes: once the canary leaves the TraefikService its series goes stale."""
    query = 'sum(max_over_time(traefik_service_requests_total{{service="{0}-{1}-canary-80@kubernetescrd"}}[10m]))'.format(
        namespace, SERVICE)
    result = sandbox.prometheus_query(query)
    return float(result[0]["value"][1]) if result else 0.0


@pytest.fixture
def cart(sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace, name=TARGET, service_name=SERVICE)
    canary = fast_canary(namespace, service_name=SERVICE, threshold=3)
    canary["metadata"]["name"] = CANARY
    canary["spec"]["targetRef"]["name"] = TARGET
    canary["spec"]["autoscalerRef"]["name"] = TARGET
    return write_canary(tmp_path, canary)


def release(sandbox, canary_file, *args):
    return run_playbook(sandbox, extra_vars={"canary_file": str(canary_file)}, args=args)


def operate(sandbox, namespace, playbook):
    return run_playbook(sandbox, playbook, extra_vars={"canary_name": CANARY, "canary_namespace": namespace})


def test_a_service_named_apart_from_its_target_is_initialised_promoted_rolled_back_aborted_and_promoted(
        sandbox, namespace, cart):
    ref, target_ref = f"{CANARY}.{namespace}", f"{TARGET}.{namespace}"

    # Initialise: Services and TraefikService named after `cart`, selecting `cart-api` pods.
    first = release(sandbox, cart)
    assert first.returncode == 0, first.stdout[-4000:]
    assert selector(sandbox, namespace, SERVICE) == {"app": f"{TARGET}-primary"}
    assert selector(sandbox, namespace, f"{SERVICE}-primary") == {"app": f"{TARGET}-primary"}
    assert selector(sandbox, namespace, f"{SERVICE}-canary") == {"app": TARGET}
    assert traefik_entries(sandbox, namespace) == {f"{SERVICE}-primary": 100}
    assert replicas(sandbox, namespace, TARGET) == 0
    assert versions_through_traefik(sandbox, namespace, 100) == {"4.0.5": 100}

    load = Load(sandbox, namespace, rps=30)
    try:
        # Promote: the analysis measures `cart-canary`, the promotion routes `cart-primary`.
        set_image(sandbox, namespace, "4.0.6", deployment=TARGET)
        promoted = release(sandbox, cart, "-v")
        assert promoted.returncode == 0, promoted.stdout[-4000:]
        label = 'service=\\"{0}-{1}-canary-80@kubernetescrd\\"'.format(namespace, SERVICE)
        assert label in promoted.stdout, "the built-in checks did not query the cart-canary series"
        assert canary_series_requests(sandbox, namespace) > 0
        events = canary_events(sandbox, namespace, CANARY)
        assert f"New revision detected! Scaling up {target_ref}" in events
        assert f"Advance {ref} canary weight 10" in events
        assert f"Copying {target_ref} template spec to {TARGET}-primary.{namespace}" in events
        assert f"Promotion completed! Scaling down {target_ref}" in events
        assert phase(sandbox, namespace) == "Succeeded"
        assert traefik_entries(sandbox, namespace) == {f"{SERVICE}-primary": 100}
        assert replicas(sandbox, namespace, TARGET) == 0
        assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}

        # A failing revision is rolled back to `cart-primary`.
        set_image(sandbox, namespace, "4.0.7", env={"SANDBOX_FAIL_RATE": "0.5"}, deployment=TARGET)
        failed = release(sandbox, cart)
        assert failed.returncode != 0
        events = canary_events(sandbox, namespace, CANARY)
        assert any(m.startswith(f"Rolling back {ref} failed checks threshold reached") for m in events), events
        assert f"Canary failed! Scaling down {ref}" in events
        assert phase(sandbox, namespace) == "Failed"
        assert traefik_entries(sandbox, namespace) == {f"{SERVICE}-primary": 100}
        assert replicas(sandbox, namespace, TARGET) == 0
        assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}

        # A release in flight whose job was cancelled is aborted by an operator.
        sandbox.kubectl("-n", namespace, "set", "env", f"deployment/{TARGET}", "SANDBOX_FAIL_RATE-")
        set_image(sandbox, namespace, "4.0.8", deployment=TARGET)
        # The cancelled job's lock expires 20 s after its last renewal instead of the default
        # progress deadline + 30 s; the operator's abort waits for that either way.
        running = start_playbook(sandbox, extra_vars={"canary_file": str(cart), "canary_lock_duration": 20})
        try:
            # A guard, not a measurement: on a busy two-core machine the run needs over 90 s to
            # reach its first step.
            wait_until(lambda: traefik_entries(sandbox, namespace).get(f"{SERVICE}-canary", 0) >= 10,
                       timeout=240, what="the canary to receive traffic")
            split = versions_through_traefik(sandbox, namespace, 200)
            assert set(split) == {"4.0.6", "4.0.8"}, split
        finally:
            kill_release(running)
        aborted = operate(sandbox, namespace, "abort.yml")
        assert aborted.returncode == 0, aborted.stdout[-4000:]
        assert traefik_entries(sandbox, namespace) == {f"{SERVICE}-primary": 100}
        assert replicas(sandbox, namespace, TARGET) == 0
        assert phase(sandbox, namespace) == "Failed"
        assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.6": 200}

        # The operator then promotes the aborted revision by hand.
        manual = operate(sandbox, namespace, "promote.yml")
        assert manual.returncode == 0, manual.stdout[-4000:]
        primary = get_json(sandbox, namespace, "deployment", f"{TARGET}-primary")
        assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.8"
        assert traefik_entries(sandbox, namespace) == {f"{SERVICE}-primary": 100}
        assert replicas(sandbox, namespace, TARGET) == 0
        assert phase(sandbox, namespace) == "Succeeded"
        assert f"Promotion completed! Scaling down {target_ref} (promoted by an operator)" in \
            canary_events(sandbox, namespace, CANARY)
        # Traefik may serve the old primary pods for a moment while they terminate.
        sandbox.wait_for_versions(host_for(namespace), {"4.0.8"}, timeout=20)
        assert versions_through_traefik(sandbox, namespace, 200) == {"4.0.8": 200}
    finally:
        load.stop()
