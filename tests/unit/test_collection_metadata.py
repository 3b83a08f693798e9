"""The action group covers every module, so one module_defaults entry configures them all."""
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle)


def test_action_group_lists_every_module_and_extends_kubernetes_core():
    group = _load("meta", "runtime.yml")["action_groups"]["k8s"]
    metadata = [entry for entry in group if isinstance(entry, dict)]
    listed = sorted(entry for entry in group if isinstance(entry, str))
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                     if name.endswith(".py") and not name.startswith("_"))
    assert listed == modules
    assert metadata == [{"metadata": {"extend_group": ["kubernetes.core.k8s"]}}]


def test_galaxy_declares_the_kubernetes_core_dependency_range():
    galaxy = _load("galaxy.yml")
    assert (galaxy["namespace"], galaxy["name"]) == ("progressive", "delivery")
    assert galaxy["dependencies"] == {"kubernetes.core": ">=6.0.0,<7.0.0"}
