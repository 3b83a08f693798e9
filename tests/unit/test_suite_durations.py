"""scripts/suite_durations.py: seconds per test file from pytest's JUnit XML."""
import importlib.util
from xml.etree import ElementTree
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "suite_durations.py"
_SPEC = importlib.util.spec_from_file_location("suite_durations_script", _PATH)
durations = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(durations)

REPORT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4" time="100.0">
<testcase classname="tests.integration.test_chaos" name="test_a" time="60.5" />
<testcase classname="tests.integration.test_routing_ab_testing" name="test_b[x]" time="10.25" />
<testcase classname="tests.integration.test_routing_ab_testing.TestGroup" name="test_c" time="4.75" />
<testcase classname="tests.integration.test_chaos" name="test_d" time="4.5" />
</testsuite></testsuites>"""


def test_seconds_are_summed_per_file_whatever_class_holds_the_test():
    totals = durations.file_totals(ElementTree.fromstring(REPORT))
    assert totals == {"test_chaos.py": 65.0, "test_routing_ab_testing.py": 15.0}


def test_the_files_are_printed_longest_first_with_the_parallelism(tmp_path, capsys):
    report = tmp_path / "pytest.xml"
    report.write_text(REPORT)
    durations.main([str(report)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:3] == ["test_chaos.py", "65.0", "81.2%"]
    assert lines[2].split()[0] == "test_routing_ab_testing.py"
    assert lines[-1].startswith("2 files, 80 s of tests in 100 s of wall time: 0.80 tests")
