"""What a release needs to be allowed to do, and how a missing permission is reported."""
import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils import permissions
from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError

from pdtest.manifests import SEED_CANARY

CANARY = parse_canary(yaml.safe_load(SEED_CANARY))


def described(needs):
    return {n.describe() for n in needs}


def test_an_initialised_release_needs_updates_but_no_creates_of_workloads():
    needs = described(permissions.release_needs(CANARY, "traefik.io"))
    assert {"update canaries.flagger.app/status", "update deployments.apps",
            "update traefikservices.traefik.io", "create leases.coordination.k8s.io", "create events"} <= needs
    # The canary is scaled by updating its Deployment (canary_scale), not through the scale subresource.
    assert not [n for n in needs if n.endswith("/scale")]
    assert "create deployments.apps" not in needs and "create traefikservices.traefik.io" not in needs
    # The seed's webhooks call the load tester inside the cluster.
    assert "create services/proxy" in needs


def test_a_first_run_also_needs_to_create_the_primary_services_route_and_hpa_in_the_detected_group():
    needs = described(permissions.release_needs(CANARY, "traefik.containo.us", initialized=False))
    assert {"create deployments.apps", "create services", "create traefikservices.traefik.containo.us",
            "create horizontalpodautoscalers.autoscaling"} <= needs
    assert not any(n.endswith("traefik.io") for n in needs)


def test_tracked_configuration_and_registration_add_their_permissions_once():
    needs = permissions.release_needs(CANARY, "traefik.io", tracked_kinds=["Secret", "Secret"], register_canary=True)
    assert {"create secrets", "update secrets", "create canaries.flagger.app"} <= described(needs)
    assert len(needs) == len({n.key() for n in needs})


class _Answer(object):
    def __init__(self, body):
        self.body = body

    def to_dict(self):
        return self.body


class _Reviews(object):
    def __init__(self, denied):
        self.denied = denied
        self.asked = []

    def create(self, body):
        self.asked.append(body)
        spec = body.get("spec") or {}
        if body["kind"] == "SelfSubjectReview":
            return _Answer({"status": {"userInfo": {"username": "system:serviceaccount:ci:deployer"}}})
        attrs = spec["resourceAttributes"]
        key = (attrs["verb"], attrs["resource"], attrs.get("subresource", ""))
        return _Answer({"status": {"allowed": key not in self.denied}})


def test_every_missing_permission_is_named_with_its_purpose_and_who_asked(monkeypatch):
    reviews = _Reviews({("update", "traefikservices", ""), ("update", "leases", "")})
    monkeypatch.setattr(permissions, "get_resource", lambda client, api_version, kind: reviews)
    needs = permissions.release_needs(CANARY, "traefik.io")

    with pytest.raises(DeliveryError) as err:
        permissions.require(object(), "test", needs)

    message = str(err.value)
    assert message.startswith("system:serviceaccount:ci:deployer may not ")
    assert "update traefikservices.traefik.io (to shift the weights)" in message
    assert "update leases.coordination.k8s.io (to renew the release lock)" in message
    assert "in namespace test; nothing was changed" in message
    assert sorted(err.value.details["missing"]) == ["update leases.coordination.k8s.io", "update traefikservices.traefik.io"]
    asked = [b["spec"]["resourceAttributes"] for b in reviews.asked if b["kind"] == "SelfSubjectAccessReview"]
    assert all(a["namespace"] == "test" for a in asked) and len(asked) == len(needs)


def test_all_allowed_returns_how_many_were_checked(monkeypatch):
    monkeypatch.setattr(permissions, "get_resource", lambda client, api_version, kind: _Reviews(set()))
    needs = permissions.release_needs(CANARY, "traefik.io")
    assert permissions.require(object(), "test", needs) == len(needs)


def test_the_shipped_cluster_role_grants_everything_a_release_can_need():
    from pathlib import Path
    rbac = Path(__file__).resolve().parents[2] / "rbac" / "02-clusterrole.yaml"
    role = yaml.safe_load(rbac.read_text())
    assert role["kind"] == "ClusterRole"

    def granted(need):
        resource = need.resource + ("/" + need.subresource if need.subresource else "")
        return any(need.group in rule["apiGroups"] and resource in rule["resources"] and need.verb in rule["verbs"]
                   for rule in role["rules"])

    for group in ("traefik.io", "traefik.containo.us"):
        needs = permissions.release_needs(CANARY, group, initialized=False, tracked_kinds=["ConfigMap", "Secret"],
                                          register_canary=True, metric_templates=True)
        assert [n.describe() for n in needs if not granted(n)] == []


def test_an_api_server_without_access_reviews_is_not_asked(monkeypatch):
    def not_served(client, api_version, kind):
        raise DeliveryError("The API server does not serve kind {0} in {1}".format(kind, api_version))

    monkeypatch.setattr(permissions, "get_resource", not_served)
    assert permissions.require(object(), "test", permissions.release_needs(CANARY, "traefik.io")) == 0
