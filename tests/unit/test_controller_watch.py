"""The module notices when the ansible-playbook run that started it has died."""
from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import ControllerWatch


def fake_proc(tmp_path, parents):
    """A /proc with `stat` files giving each pid's parent, command names with spaces and parens."""
    for pid, parent in parents.items():
        (tmp_path / str(pid)).mkdir(exist_ok=True)
        (tmp_path / str(pid) / "stat").write_text("{0} (ansible (worker) x) S {1} 1 1 0\n".format(pid, parent))


def test_records_the_ancestors_up_to_init(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 20, 20: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    assert watch.ancestry == [(40, 30), (30, 20), (20, 1)]
    assert watch() is None


def test_a_dead_controller_orphans_the_worker_and_the_watch_says_so(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 20, 20: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    (tmp_path / "20" / "stat").unlink()      # ansible-playbook killed
    fake_proc(tmp_path, {30: 1})             # its worker re-parented to init
    assert "process 30 was orphaned" in watch()


def test_an_exited_ancestor_is_named(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    (tmp_path / "40" / "stat").unlink()
    assert "process 40 exited" in watch()


def test_without_proc_nothing_is_recorded_and_nothing_fires(tmp_path):
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path / "missing"))
    assert watch.ancestry == [] and watch() is None


def test_the_real_process_tree_is_read():
    watch = ControllerWatch()
    assert watch.ancestry and watch() is None
