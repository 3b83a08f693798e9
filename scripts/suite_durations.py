"""Where the time of the last `make test` went: seconds per test file, from pytest's JUnit XML.

    .venv/bin/python scripts/suite_durations.py [build/reports/pytest.xml] [--top N]

Prints each file's total (setup, call and teardown of its tests as pytest timed them), its share
of the whole, and the sum against the wall time of the run (how well the workers were kept busy);
tests/conftest.py's LONG_FIRST should start with the files at the top.
"""
import argparse
import collections
import sys
from xml.etree import ElementTree


def file_totals(root):
    """``{test file: seconds}`` from a JUnit XML tree (a testcase's classname is its module path)."""
    totals = collections.Counter()
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").split(".")
        # tests.integration.test_chaos (or ...test_x.TestClass) -> test_chaos.py
        name = next((part for part in reversed(module) if part.startswith("test_")), None)
        if name is None:
            continue
        totals[name + ".py"] += float(case.get("time") or 0)
    return totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", default="build/reports/pytest.xml")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    try:
        root = ElementTree.parse(args.report).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        sys.exit("cannot read {0}: {1} (make test writes it)".format(args.report, exc))
    totals = file_totals(root)
    whole = sum(totals.values())
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    wall = sum(float(s.get("time") or 0) for s in suites)
    print("{0:<48} {1:>9} {2:>7}".format("file", "seconds", "share"))
    for name, seconds in totals.most_common(args.top):
        print("{0:<48} {1:>9.1f} {2:>6.1f}%".format(name, seconds, 100.0 * seconds / whole))
    print("{0} files, {1:.0f} s of tests in {2:.0f} s of wall time: {3:.2f} tests running at "
          "once on average".format(len(totals), whole, wall, whole / wall if wall else 0.0))


if __name__ == "__main__":
    main()
