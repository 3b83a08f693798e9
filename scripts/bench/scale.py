"""Figure 5: K concurrent releases (K = 1, 5, 10 apps in their own namespaces) in one
ansible-playbook run: K inventory hosts with connection local, forks K, each with its own canary_file.

Peak memory: the sum of the resident set sizes of the ansible-playbook process and all its
descendants (forks, module processes), sampled every 0.2 s from /proc; the largest sum is reported."""
import yaml

from common import VENV_BIN, Load, deploy_podinfo, run_playbook, set_image, wait_rollout, write_canary

KS = (1, 5, 10)
STEP_WEIGHT, MAX_WEIGHT, INTERVAL = 10, 30, "2s"


def app_namespace(i):
    return "bench-scale-{0}".format(i)


def write_inventory(workdir, canary_files):
    hosts = {}
    for i, path in enumerate(canary_files, start=1):
        hosts["app{0}".format(i)] = {"canary_file": str(path)}
    groups = {"k{0}".format(k): {"hosts": {"app{0}".format(i): None for i in range(1, k + 1)}} for k in KS}
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")},
        "hosts": hosts, "children": groups}}
    path = workdir / "scale-inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def write_scale_playbook(workdir):
    path = workdir / "scale.yml"
    path.write_text(yaml.safe_dump([{
        "name": "Concurrent canary releases", "hosts": "{{ bench_group }}", "gather_facts": False,
        "roles": [{"role": "progressive.delivery.canary"}],
    }]))
    return path


def measure(sb, workdir, log):
    k_max = max(KS)
    for i in range(1, k_max + 1):
        deploy_podinfo(sb, app_namespace(i))
    for i in range(1, k_max + 1):
        wait_rollout(sb, app_namespace(i))
    files = [write_canary(workdir, app_namespace(i), interval=INTERVAL, step_weight=STEP_WEIGHT,
                          max_weight=MAX_WEIGHT, threshold=5) for i in range(1, k_max + 1)]
    inventory = write_inventory(workdir, files)
    playbook = write_scale_playbook(workdir)

    init = run_playbook(sb, playbook, inventory=inventory, extra_vars={"bench_group": "k{0}".format(k_max)},
                        env_extra={"ANSIBLE_FORKS": str(k_max)})
    if init.rc != 0:
        raise RuntimeError("initialising {0} apps failed (rc {1}): {2}".format(k_max, init.rc, init.failure()))
    log("  initialised {0} apps in {1:.1f}s".format(k_max, init.wall))
    out = {"init_wall": init.wall, "rounds": {}}
    for round_no, k in enumerate(KS, start=1):
        loads = [Load(sb, app_namespace(i), rps=10) for i in range(1, k + 1)]
        try:
            for i in range(1, k + 1):
                set_image(sb, app_namespace(i), "5.0.{0}".format(round_no))
            run = run_playbook(sb, playbook, inventory=inventory, extra_vars={"bench_group": "k{0}".format(k)},
                               env_extra={"ANSIBLE_FORKS": str(k)}, sample_rss=True, timeout=1800)
        finally:
            for load in loads:
                load.stop()
        stats = (run.report or {}).get("stats", {})
        failed_hosts = sorted(h for h, s in stats.items() if s.get("failures") or s.get("unreachable"))
        out["rounds"][k] = {"wall": run.wall, "peak_rss": run.peak_rss, "rc": run.rc,
                            "failed_hosts": failed_hosts, "failure": run.failure() if run.rc else ""}
        log("  K={0}: {1:.1f}s, peak RSS {2:.0f} MiB, rc {3}".format(k, run.wall, run.peak_rss / 2 ** 20, run.rc))
    base = out["rounds"][KS[0]]["wall"]
    for k in KS:
        out["rounds"][k]["ratio"] = out["rounds"][k]["wall"] / base
    out["steps"] = MAX_WEIGHT // STEP_WEIGHT
    return out
