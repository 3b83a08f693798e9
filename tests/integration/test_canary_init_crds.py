"""playbooks/install_crds.yml on the sandbox: Flagger-compatible kinds, columns, idempotence."""
import json

from pdtest.playbooks import recap, run_playbook


def test_install_crds_serves_flagger_kinds_with_flaggers_columns_and_is_idempotent(sandbox):
    done = run_playbook(sandbox, "install_crds.yml", timeout=180, as_admin=True)
    assert done.returncode == 0, done.stdout[-3000:]

    crd = json.loads(sandbox.kubectl("get", "crd", "canaries.flagger.app", "-o", "json").stdout)
    assert crd["spec"]["group"] == "flagger.app"
    assert "canary" in crd["spec"]["names"]["shortNames"]
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1beta1" and "status" in version["subresources"]
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    assert [name for name, priority in columns if priority == 0] == [
        "Status", "Weight", "LastTransitionTime"]
    assert {"FailedChecks", "Interval", "Mirror", "StepWeight", "StepWeights", "MaxWeight"} <= {
        name for name, priority in columns if priority == 1}
    resources = sandbox.kubectl("api-resources", "--api-group=flagger.app", "-o", "name").stdout
    assert set(resources.split()) == {"canaries.flagger.app", "metrictemplates.flagger.app",
                                      "alertproviders.flagger.app"}

    again = run_playbook(sandbox, "install_crds.yml", timeout=180, as_admin=True)
    assert again.returncode == 0, again.stdout[-3000:]
    assert recap(again.stdout)["changed"] == 0, again.stdout[-3000:]
