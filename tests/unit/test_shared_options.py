"""Option groups shared by the modules: old names keep working, bad combinations are refused
before any cluster is contacted (these runs have no cluster at all)."""

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.args_common import (
    PROMETHEUS_PROVIDER_ARG_SPEC,
    TRAEFIK_ROUTE_ARG_SPEC,
    argument_spec,
)
from pdtest.manifests import SEED_CANARY as SEED_CANARY_YAML
from pdtest.playbooks import run_module

SEED_CANARY = yaml.safe_load(SEED_CANARY_YAML)
# Nothing listens here: a module that tried to reach the API server would fail differently.
NO_CLUSTER = {"K8S_AUTH_HOST": "https://127.0.0.1:9", "K8S_AUTH_VALIDATE_CERTS": "false",
              "K8S_AUTH_API_KEY": "unused"}


def test_a_module_gets_its_own_copy_of_a_shared_group():
    spec = argument_spec(PROMETHEUS_PROVIDER_ARG_SPEC)
    spec["provider"]["options"]["timeout"]["default"] = 99
    assert PROMETHEUS_PROVIDER_ARG_SPEC["provider"]["options"]["timeout"]["default"] == 10


def test_the_old_option_names_are_aliases_of_the_new():
    assert TRAEFIK_ROUTE_ARG_SPEC["traefik_api_version"]["aliases"] == ["api_version"]
    assert PROMETHEUS_PROVIDER_ARG_SPEC["provider"]["aliases"] == ["prometheus"]


@pytest.mark.parametrize("module, args, refused", [
    ("progressive.delivery.canary_weight", {"canary": SEED_CANARY, "name": "podinfo", "weight": 10},
     "mutually exclusive: canary|name"),
    ("progressive.delivery.canary_weight", {"canary": SEED_CANARY, "port": 80, "weight": 10},
     "mutually exclusive: canary|port"),
    ("progressive.delivery.canary_weight", {"weight": 10}, "one of the following is required: name, canary"),
    ("progressive.delivery.canary_weight", {"name": "podinfo", "weight": 10},
     "parameters are required together: name, namespace"),
    ("progressive.delivery.canary_promote", {"canary": SEED_CANARY, "traefik_service": "podinfo"},
     "mutually exclusive: canary|traefik_service"),
    ("progressive.delivery.canary_weight",
     {"canary": dict(SEED_CANARY, spec=dict(SEED_CANARY["spec"], analysis={"stepWeight": 200})),
      "weight": 10},
     "spec.analysis.stepWeight"),
])
def test_a_bad_combination_is_refused_before_the_cluster_is_asked(tmp_path, module, args, refused):
    done, result = run_module(tmp_path, module, args, extra_env=NO_CLUSTER)
    assert result.get("failed"), result
    assert refused in result["msg"], result["msg"]
    assert "127.0.0.1:9" not in result["msg"]


def test_canary_weight_accepts_its_old_api_version_option(tmp_path):
    # The alias passes argument validation; the unknown group is then refused by name.
    done, result = run_module(tmp_path, "progressive.delivery.canary_weight",
                              {"name": "podinfo", "namespace": "test", "weight": 10,
                               "api_version": "traefik.io/v2"}, extra_env=NO_CLUSTER)
    assert result.get("failed"), result
    assert "traefik_api_version" in result["msg"] and "traefik.io/v1alpha1" in result["msg"], \
        result["msg"]
