"""Files named in task arguments are found and read on the controller, errors naming the option."""
import pytest
import yaml
from ansible.errors import AnsibleError

from ansible_collections.progressive.delivery.plugins.action.metric_check import load_template_file
from ansible_collections.progressive.delivery.plugins.module_utils.errors import DeliveryError
from ansible_collections.progressive.delivery.plugins.plugin_utils.controller_files import (
    controller_path,
    read_canary_file,
)
from pdtest.manifests import SEED_CANARY


class Action(object):
    """What controller_path asks of an action plugin: the search ansible.builtin.copy's src gets."""

    def __init__(self, found=None):
        self.found = found or {}

    def _find_needle(self, dirname, needle):
        assert dirname == "files"
        if needle in self.found:
            return self.found[needle]
        raise AnsibleError("Could not find or access '{0}'\nSearched in:\n\t/play/files/{0}\n\t/play/{0}".format(needle))


def test_a_path_the_search_finds_is_used():
    assert controller_path(Action({"canary.yaml": "/play/files/canary.yaml"}), "canary_file",
                           "canary.yaml") == "/play/files/canary.yaml"


def test_a_path_found_nowhere_else_is_taken_from_the_directory_ansible_playbook_runs_in(tmp_path, monkeypatch):
    (tmp_path / "canaries").mkdir()
    (tmp_path / "canaries" / "podinfo.yaml").write_text("kind: Canary\n")
    monkeypatch.chdir(tmp_path)

    assert controller_path(Action(), "canary_file", "canaries/podinfo.yaml") == str(tmp_path / "canaries" / "podinfo.yaml")


def test_a_missing_file_names_the_option_and_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(DeliveryError) as caught:
        controller_path(Action(), "metric_template_files entry", "templates.yaml")

    message = str(caught.value)
    assert message.startswith("metric_template_files entry templates.yaml was not found on the controller: ")
    assert "/play/files/templates.yaml /play/templates.yaml" in message
    assert message.endswith("nor is it {0}".format(tmp_path / "templates.yaml"))


@pytest.mark.parametrize("value", [None, "", 42, ["a.yaml"]])
def test_a_path_that_is_not_a_string_is_refused_naming_the_option(value):
    with pytest.raises(DeliveryError, match="^canary_file must be the path of a file; got "):
        controller_path(Action(), "canary_file", value)


def test_canary_file_becomes_the_manifest_it_holds(tmp_path):
    path = tmp_path / "canary.yaml"
    path.write_text(SEED_CANARY)

    args = read_canary_file(Action({"canary.yaml": str(path)}), {"canary_file": "canary.yaml", "namespace": "test"})

    assert args == {"canary": yaml.safe_load(SEED_CANARY), "namespace": "test"}


def test_canary_file_and_canary_together_are_left_for_the_module_to_refuse():
    args = {"canary_file": "canary.yaml", "canary": {"kind": "Canary"}}

    assert read_canary_file(Action(), dict(args)) == args


def test_a_template_file_without_a_metric_template_names_the_file(tmp_path):
    path = tmp_path / "deployment.yaml"
    path.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: podinfo}\n")

    with pytest.raises(DeliveryError) as caught:
        load_template_file(str(path), "deployment.yaml")

    assert str(caught.value) == "template file deployment.yaml holds no MetricTemplate"


def test_a_template_file_with_an_invalid_metric_template_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: flagger.app/v1beta1\nkind: MetricTemplate\nmetadata: {name: broken}\nspec: {}\n")

    with pytest.raises(DeliveryError) as caught:
        load_template_file(str(path), "broken.yaml")

    assert "template file broken.yaml" in str(caught.value)
