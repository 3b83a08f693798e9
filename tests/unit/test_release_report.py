"""The release report's pure parts: the per-step line, the JUnit cases and documents."""
import xml.etree.ElementTree as ET

from ansible_collections.progressive.delivery.plugins.module_utils.release_report import (
    check_cases,
    junit_xml,
    report_html,
)
from ansible_collections.progressive.delivery.plugins.modules.canary_analysis import step_line


def tick(weight, passed, failed_checks, metrics, webhooks=(), started=1000.0):
    return {"weight": weight, "started_at": started, "ended_at": started + 3, "passed": passed,
            "failed_checks": failed_checks, "metrics": list(metrics), "webhooks": list(webhooks),
            "events": [], "msg": ""}


RATE_OK = {"name": "request-success-rate", "value": 100.0, "passed": True, "verdict": "pass",
           "msg": "success rate 100.00% >= 99%"}
RATE_BAD = {"name": "request-success-rate", "value": 53.42, "passed": False, "verdict": "fail",
            "msg": "success rate 53.42% < 99%"}
LATENCY_OK = {"name": "request-duration", "value": 12.0, "passed": True, "verdict": "pass",
              "msg": "request duration 12ms <= 500ms"}


def test_a_passed_step_line_names_the_weight_each_check_the_failed_checks_and_the_decision():
    result = {"weight": 20, "passed": True, "failed_checks": 1, "metrics": [RATE_OK, LATENCY_OK],
              "webhooks": [], "ticks": [{}]}

    assert step_line(result, 3) == (
        "weight 20: success rate 100.00% >= 99%, request duration 12ms <= 500ms; failed checks 1/3; passed")


def test_a_step_that_reached_the_threshold_says_roll_back_and_counts_its_ticks():
    result = {"weight": 10, "passed": False, "threshold_reached": True, "failed_checks": 2,
              "metrics": [RATE_BAD, LATENCY_OK], "ticks": [{}, {}],
              "webhooks": [{"name": "load-test", "type": "rollout", "passed": False,
                            "msg": "load-test webhook failed with HTTP 500: boom"}]}

    line = step_line(result, 2)

    assert line.startswith("weight 10 (tick 2): success rate 53.42% < 99%, ")
    assert "load-test webhook failed with HTTP 500: boom" in line
    assert line.endswith("; failed checks 2/2; roll back: failed checks threshold reached")


def test_a_changed_target_is_a_restart_not_a_rollback():
    result = {"weight": 10, "passed": False, "threshold_reached": False, "revision_changed": True,
              "failed_checks": 0, "metrics": [], "ticks": [{}]}

    assert step_line(result, 2) == "weight 10: no checks; failed checks 0/2; restart from weight 0: the target changed"


def test_a_paused_step_names_the_judgement_and_says_a_person_decides():
    result = {"weight": 50, "passed": False, "paused": True, "failed_checks": 0, "metrics": [],
              "judge": {"msg": "judge score 50 inconclusive (between 40 and 95); comparison "
                               "request-duration: high"}, "ticks": [{}]}

    assert step_line(result, 3) == (
        "weight 50: judge score 50 inconclusive (between 40 and 95); comparison request-duration: "
        "high; failed checks 0/3; paused for a decision: the judge was inconclusive")


def test_one_junit_case_per_step_and_check_with_a_failure_where_the_check_failed():
    ticks = [tick(10, False, 1, [RATE_BAD, LATENCY_OK]),
             tick(10, True, 1, [RATE_OK, LATENCY_OK], webhooks=[
                 {"name": "load-test", "type": "rollout", "passed": True, "msg": "ok"},
                 {"name": "gate", "type": "confirm-traffic-increase", "passed": True, "msg": "ok"}])]

    cases = check_cases(ticks)
    suite = ET.fromstring(junit_xml("podinfo.test", ticks).split("\n", 1)[1]).find("testsuite")

    assert [(c[0], c[2], c[3]) for c in cases] == [
        (1, "request-success-rate", False), (1, "request-duration", True),
        (2, "request-success-rate", True), (2, "request-duration", True), (2, "webhook load-test", True)]
    assert suite.get("tests") == "5" and suite.get("failures") == "1"
    failed = [case for case in suite.findall("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["step 1 weight 10: request-success-rate"]
    assert failed[0].find("failure").get("message") == "success rate 53.42% < 99%"


def test_the_html_escapes_what_it_shows_and_holds_the_plot_and_one_row_per_step():
    ticks = [tick(10, False, 1, [dict(RATE_BAD, msg="rate <script>")]), tick(20, True, 1, [RATE_OK])]

    page = report_html("podinfo.test", "Failed", "Rolling back <now>", "abc", ticks,
                       [("request-success-rate", 99, None)], [], [], b"\x89PNG")

    assert "<script>" not in page and "rate &lt;script&gt;" in page
    assert 'src="data:image/png;base64,iVBORw==' in page
    body = page.split('<table id="steps">', 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr class=") == 2
