"""The module notices when the ansible-playbook run that started it has died."""
import pytest

from ansible_collections.progressive.delivery.plugins.module_utils.controller_watch import (
    POLL_SECONDS,
    ControllerWatch,
    RunGone,
)

from pdtest.fake_time import FakeTime


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


def test_a_wait_ends_within_a_poll_once_the_run_is_gone(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 20, 20: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    clock = FakeTime()

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now >= 3:  # ansible-playbook killed 3 s into a 60 s interval
            (tmp_path / "20" / "stat").unlink(missing_ok=True)
            fake_proc(tmp_path, {30: 1})

    with pytest.raises(RunGone, match="process 30 was orphaned"):
        watch.sleep(60, sleep=sleep, clock=clock.clock)
    assert 3 <= clock.now <= 3 + POLL_SECONDS


def test_a_run_that_dies_during_the_last_slice_of_a_wait_is_noticed_before_it_returns(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    clock = FakeTime()

    def sleep(seconds):
        clock.sleep(seconds)
        if clock.now >= 2:
            (tmp_path / "40" / "stat").unlink()

    with pytest.raises(RunGone, match="process 40 exited"):
        watch.sleep(2, sleep=sleep, clock=clock.clock)


def test_a_wait_whose_run_lives_lasts_its_whole_time(tmp_path):
    fake_proc(tmp_path, {50: 40, 40: 30, 30: 1})
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    clock = FakeTime()
    watch.sleep(2.2, sleep=clock.sleep, clock=clock.clock)
    assert clock.now == pytest.approx(2.2)
    assert max(clock.sleeps) <= POLL_SECONDS
    watch.check()  # does not raise


PLAYBOOK = b"/venv/bin/python\0/venv/bin/ansible-playbook\0playbooks/canary.yml\0"


def fake_run(tmp_path, controller_parent=10):
    """ansible-playbook (20) under a shell (10), its task worker (30, a session of its own, the same
    command line: a fork), the worker's shell (40) and the module (50)."""
    processes = {10: (1, 10, b"bash\0"), 20: (controller_parent, 10, PLAYBOOK), 30: (20, 30, PLAYBOOK),
                 40: (30, 30, b"/bin/sh\0-c\0python AnsiballZ_canary_analysis.py\0"),
                 50: (40, 30, b"python\0AnsiballZ_canary_analysis.py\0")}
    for pid, (parent, session, command_line) in processes.items():
        (tmp_path / str(pid)).mkdir(exist_ok=True)
        (tmp_path / str(pid) / "stat").write_text("{0} (x) S {1} {2} {2} 0\n".format(pid, parent, session))
        (tmp_path / str(pid) / "cmdline").write_bytes(command_line)
    (tmp_path / "1").mkdir(exist_ok=True)
    (tmp_path / "1" / "cmdline").write_bytes(b"/sbin/init\0")


def test_a_worker_whose_ansible_playbook_lives_is_not_judged_orphaned(tmp_path):
    fake_run(tmp_path)
    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))
    assert watch.orphaned_at_start is None and watch() is None


def test_a_run_killed_while_the_module_was_starting_is_noticed(tmp_path):
    fake_run(tmp_path)
    (tmp_path / "20" / "stat").unlink()  # ansible-playbook killed before the module got going
    (tmp_path / "20" / "cmdline").unlink()
    (tmp_path / "30" / "stat").write_text("30 (x) S 1 30 30 0\n")  # its worker re-parented to init

    watch = ControllerWatch(pid=50, proc_root=str(tmp_path))

    assert watch.orphaned_at_start == 30
    assert "its worker, process 30, was orphaned before the module started" in watch()
    with pytest.raises(RunGone):
        watch.check()


def test_a_worker_re_parented_to_a_subreaper_is_noticed_too(tmp_path):
    fake_run(tmp_path)
    (tmp_path / "20" / "cmdline").write_bytes(b"/usr/lib/systemd/systemd\0--user\0")
    (tmp_path / "20" / "stat").write_text("20 (systemd) S 1 20 20 0\n")
    assert ControllerWatch(pid=50, proc_root=str(tmp_path)).orphaned_at_start == 30


def test_a_session_that_is_not_an_ansible_worker_is_not_judged(tmp_path):
    # An sshd session (or an async wrapper) leads the module's session: its parent runs something
    # else by design.
    fake_run(tmp_path)
    (tmp_path / "30" / "cmdline").write_bytes(b"sshd: deploy@notty\0")
    assert ControllerWatch(pid=50, proc_root=str(tmp_path)).orphaned_at_start is None
