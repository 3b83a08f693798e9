"""canary_info on the sandbox: detecting new revisions the way Flagger does."""
import pytest
import yaml

from pdtest.apps import deploy_podinfo, install_crds
from pdtest.checkout import EXAMPLES
from pdtest.playbooks import run_tasks
from test_canary_init import add_config, seed_canary_file


@pytest.fixture(scope="module", autouse=True)
def crds(sandbox):
    install_crds(sandbox)


def info(sandbox, tmp_path, play="info.yml", **options):
    rc, (result,), _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_info": options}], name=play)
    assert rc == 0, result.get("msg")
    assert result["changed"] is False
    return result


def test_new_revision_is_detected_after_set_image_and_after_a_config_change(
        sandbox, namespace, tmp_path):
    deploy_podinfo(sandbox, namespace)
    add_config(sandbox, namespace)
    canary_file = str(seed_canary_file(tmp_path, namespace))
    before = info(sandbox, tmp_path, canary_file=canary_file)
    assert before["initialized"] is False and before["new_revision"] is False
    assert before["registered"] is False and before["source"] == "file"
    assert before["canary"]["steps"] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]

    rc, _results, _stats = run_tasks(
        sandbox, tmp_path, [{"progressive.delivery.canary_init": {"canary_file": canary_file}}],
        name="init.yml")
    assert rc == 0
    promoted = info(sandbox, tmp_path, play="i1.yml", canary_file=canary_file)
    assert promoted["initialized"] is True and promoted["new_revision"] is False
    assert promoted["revision"] == promoted["status"]["lastPromotedSpec"]

    sandbox.kubectl("-n", namespace, "set", "image", "deployment/podinfo",
                    "podinfod=stefanprodan/podinfo:4.0.6")
    after_image = info(sandbox, tmp_path, play="i2.yml", canary_file=canary_file)
    assert after_image["new_revision"] is True
    assert after_image["revision"] != promoted["revision"]
    assert after_image["tracked_configs"] == promoted["tracked_configs"]

    # Once that revision is being analysed it is no longer "new": the run resumes it instead.
    rc, _results, _stats = run_tasks(sandbox, tmp_path, [{
        "progressive.delivery.canary_status": {
            "name": "podinfo", "namespace": namespace, "phase": "Progressing",
            "last_applied_spec": after_image["revision"]}}], name="progress.yml")
    assert rc == 0
    progressing = info(sandbox, tmp_path, play="i3.yml", canary_file=canary_file)
    assert progressing["new_revision"] is False and progressing["in_progress"] is True

    sandbox.kubectl("-n", namespace, "patch", "configmap/podinfo-config", "--type=merge",
                    "-p", '{"data": {"color": "red"}}')
    after_config = info(sandbox, tmp_path, play="i4.yml", canary_file=canary_file)
    assert after_config["new_revision"] is True
    assert after_config["revision"] not in (after_image["revision"], promoted["revision"])
    assert after_config["tracked_configs"]["configmap/podinfo-config"] != \
        promoted["tracked_configs"]["configmap/podinfo-config"]
    assert after_config["tracked_configs"]["secret/podinfo-token"] == \
        promoted["tracked_configs"]["secret/podinfo-token"]


def test_canary_in_the_cluster_is_read_by_name_with_its_metric_templates(
        sandbox, namespace, tmp_path):
    canary = yaml.safe_load(seed_canary_file(tmp_path, namespace).read_text())
    canary["spec"]["analysis"]["metrics"].append({
        "name": "404s percentage", "templateRef": {"name": "not-found-percentage"},
        "thresholdRange": {"max": 5}, "interval": "1m"})
    template = yaml.safe_load((EXAMPLES / "not-found-percentage.yaml").read_text())
    template["metadata"]["namespace"] = namespace
    sandbox.apply(yaml.safe_dump_all([canary, template]), namespace=namespace)
    result = info(sandbox, tmp_path, name="podinfo", namespace=namespace)
    assert result["source"] == "cluster" and result["target_exists"] is False
    assert list(result["metric_templates"]) == [namespace + "/not-found-percentage"]
    assert result["canary"]["analysis"]["metrics"][2]["template_ref"] == {
        "name": "not-found-percentage", "namespace": namespace}

    sandbox.kubectl("-n", namespace, "delete", "metrictemplate/not-found-percentage")
    rc, (failed,), _stats = run_tasks(sandbox, tmp_path, [{
        "progressive.delivery.canary_info": {"name": "podinfo", "namespace": namespace}}],
        name="missing.yml")
    assert rc != 0
    assert "spec.analysis.metrics[2].templateRef" in failed["msg"]
    assert "not-found-percentage" in failed["msg"]

    template_file = tmp_path / "template.yaml"
    template_file.write_text(yaml.safe_dump(template))
    from_file = info(sandbox, tmp_path, play="file.yml", canary={"apiVersion": canary[
        "apiVersion"], "kind": "Canary", "metadata": canary["metadata"], "spec": canary["spec"]},
        metric_template_files=[str(template_file)])
    assert from_file["source"] == "dict"
    assert from_file["metric_templates"][namespace + "/not-found-percentage"]["spec"]["query"]
