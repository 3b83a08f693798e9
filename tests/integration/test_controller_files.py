"""Files named in task arguments are read on the controller, found next to the playbook or in its
files/ directory as users expect of copy's src, and the role reaches the cluster through
canary_k8s_auth when the play targets another host.

The modules run with the repository as their working directory, so a relative path that the
controller did not resolve would not be found by the module.
"""
import json
import subprocess
import sys

import pytest
import yaml

from pdtest.apps import deploy_podinfo, set_image
from pdtest.checkout import EXAMPLES, VENV_BIN
from pdtest.load import Load
from pdtest.manifests import fast_canary
from pdtest.playbooks import ansible_env, run_playbook, run_tasks
from pdtest.sandbox import get_json
from pdtest.timeouts import guard


@pytest.fixture
def playbook_dir(tmp_path):
    (tmp_path / "files").mkdir()
    return tmp_path


def not_found_template(namespace):
    template = yaml.safe_load((EXAMPLES / "not-found-percentage.yaml").read_text())
    template["metadata"]["namespace"] = namespace
    return template


def test_canary_info_reads_relative_files_next_to_the_playbook_and_in_its_files_dir(
        sandbox, namespace, playbook_dir):
    canary = fast_canary(namespace)
    canary["spec"]["analysis"]["metrics"].append({
        "name": "404s percentage", "templateRef": {"name": "not-found-percentage"},
        "thresholdRange": {"max": 5}, "interval": "1m"})
    (playbook_dir / "files" / "podinfo-canary.yaml").write_text(yaml.safe_dump(canary))
    (playbook_dir / "templates.yaml").write_text(yaml.safe_dump(not_found_template(namespace)))

    rc, (result,), _stats = run_tasks(sandbox, playbook_dir, [{"progressive.delivery.canary_info": {
        "canary_file": "podinfo-canary.yaml", "metric_template_files": ["templates.yaml"]}}])

    assert rc == 0, result.get("msg")
    assert result["source"] == "file"
    assert result["canary"]["name"] == "podinfo" and result["canary"]["namespace"] == namespace
    template = result["metric_templates"][namespace + "/not-found-percentage"]
    assert template["spec"]["query"] == not_found_template(namespace)["spec"]["query"]


@pytest.mark.parametrize("option, task", [
    ("canary_file", {"progressive.delivery.canary_info": {"canary_file": "no-such-canary.yaml"}}),
    ("metric_template_files entry", {"progressive.delivery.canary_info": {
        "name": "podinfo", "namespace": "default", "metric_template_files": ["no-such-templates.yaml"]}}),
    ("template", {"progressive.delivery.metric_check": {
        "template": "no-such-template.yaml", "threshold_range": {"max": 5}, "namespace": "default",
        "target": "podinfo"}}),
])
def test_a_file_missing_on_the_controller_fails_naming_the_option(sandbox, playbook_dir, option, task):
    rc, (result,), _stats = run_tasks(sandbox, playbook_dir, [task])

    assert rc != 0
    assert result["msg"].startswith(option + " no-such-"), result["msg"]
    assert "was not found on the controller" in result["msg"]
    assert str(playbook_dir / "files") in result["msg"]  # where it was looked for


def test_metric_check_reads_a_template_file_from_the_files_dir(sandbox, namespace, playbook_dir):
    (playbook_dir / "files" / "code.yaml").write_text(yaml.safe_dump(not_found_template(namespace)))
    task = {"progressive.delivery.metric_check": {
        "template": "code.yaml", "threshold_range": {"max": 5}, "namespace": namespace,
        "target": "podinfo", "provider": {"address": sandbox.prometheus_url}}}

    rc, (result,), _stats = run_tasks(sandbox, playbook_dir, [task], check=True)

    # No traffic yet: the verdict is no data, but the query is the template's, rendered.
    assert result.get("query"), result
    assert f'service=~"{namespace}-podinfo-canary-' in result["query"], result["query"]
    assert "{{" not in result["query"]


def test_role_on_another_host_reads_the_canary_on_the_controller_and_connects_with_canary_k8s_auth(
        sandbox, namespace, playbook_dir):
    deploy_podinfo(sandbox, namespace)
    (playbook_dir / "files" / "podinfo-canary.yaml").write_text(yaml.safe_dump(fast_canary(namespace)))
    (playbook_dir / "inventory.ini").write_text(
        f"managed-node ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (playbook_dir / "release.yml").write_text(yaml.safe_dump([{
        "name": "Release from a play on another host", "hosts": "managed-node", "gather_facts": False,
        "roles": [{"role": "progressive.delivery.canary", "vars": {
            "canary_file": "podinfo-canary.yaml",
            "canary_k8s_auth": "{{ k8s_auth }}"}}],
    }]))
    env = ansible_env(sandbox)
    # Without canary_k8s_auth the modules would find no cluster at all.
    env.pop("KUBECONFIG")

    def release(auth, *args):
        return subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", "inventory.ini", "release.yml",
             "-e", json.dumps({"k8s_auth": auth}), *args],
            cwd=playbook_dir, env=env, capture_output=True, text=True, timeout=guard(300), check=False)

    secret = "api-key-" + namespace
    refused = release({"kubeconfig": sandbox.kubeconfig, "context": "no-such-context", "api_key": secret}, "-v")
    assert refused.returncode != 0
    assert "no-such-context" in refused.stdout, refused.stdout[-3000:]
    assert secret not in refused.stdout + refused.stderr

    initialised = release({"kubeconfig": sandbox.kubeconfig})
    assert initialised.returncode == 0, initialised.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Initialized"

    # A release scales the canary with kubernetes.core.k8s_scale, reached through the same group.
    set_image(sandbox, namespace, "4.0.6")
    load = Load(sandbox, namespace, rps=30)
    try:
        released = release({"kubeconfig": sandbox.kubeconfig})
    finally:
        load.stop()
    assert released.returncode == 0, released.stdout[-4000:]
    assert get_json(sandbox, namespace, "canary", "podinfo")["status"]["phase"] == "Succeeded"
    primary = get_json(sandbox, namespace, "deployment", "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == "stefanprodan/podinfo:4.0.6"


def test_role_refuses_an_unknown_canary_k8s_auth_option_naming_it(sandbox):
    extra_vars = {"canary_name": "podinfo", "canary_namespace": "default",
                  "canary_k8s_auth": {"kubeconfig": sandbox.kubeconfig, "token": "s3cr3t"}}
    result = run_playbook(sandbox, extra_vars=extra_vars, timeout=120)

    assert result.returncode != 0
    assert "canary_k8s_auth" in result.stdout and "token" in result.stdout, result.stdout[-3000:]
