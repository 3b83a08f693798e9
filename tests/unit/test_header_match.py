"""A/B testing's match: Flagger's header conditions are read, refused when Traefik could not use
them (regexes are checked against Go's own regexp package), and written as Traefik rules."""
import json
import subprocess

import pytest
import yaml

from ansible_collections.progressive.delivery.plugins.module_utils.canary_spec import SpecError, parse_canary
from ansible_collections.progressive.delivery.plugins.module_utils.header_match import (
    escape_literal,
    re2_problem,
    route_rule,
)

from pdtest.manifests import SEED_CANARY

GO_CHECK = """package main

import (
    "bufio"
    "encoding/json"
    "fmt"
    "os"
    "regexp"
)

func main() {
    in := bufio.NewScanner(os.Stdin)
    for in.Scan() {
        var pattern string
        json.Unmarshal(in.Bytes(), &pattern)
        _, err := regexp.Compile(pattern)
        fmt.Println(err == nil)
    }
}
"""

PATTERNS = [
    "^(.*?;)?(canary=always)(;.*)?$", r"\d+\.\d+", "(?i)insider", "(?P<v>v[0-9]+)", "(?<v>x)",
    r"\Qa.b\E", r"abc\z", "[*+]+", "[(?=]x", "a+?", "x{2,3}",
    "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", r"(a)\1", "a++", "a{2}+", "(?>a)", r"\Z",
    "(unclosed", "a)", "[z-a]", "(?#note)", "*a",
]


@pytest.fixture(scope="module")
def go_accepts(tmp_path_factory):
    source = tmp_path_factory.mktemp("re2") / "main.go"
    source.write_text(GO_CHECK)
    done = subprocess.run(["go", "run", str(source)], input="\n".join(json.dumps(p) for p in PATTERNS),
                          capture_output=True, text=True, timeout=300, check=True)
    return dict(zip(PATTERNS, [line == "true" for line in done.stdout.split()]))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_regex_is_refused_exactly_when_gos_regexp_refuses_it(go_accepts, pattern):
    assert (re2_problem(pattern) is None) == go_accepts[pattern], re2_problem(pattern)


def test_a_literal_prefix_is_escaped_so_that_go_reads_it_literally(go_accepts):
    assert escape_literal("1.2 (beta)*") == r"1\.2 \(beta\)\*"


def test_the_rule_narrows_the_users_rule_in_traefik_v3_and_v2_syntax():
    match = [{"headers": {"x-canary": {"kind": "exact", "value": "insider"}}},
             {"headers": {"cookie": {"kind": "regex", "value": "^(.*?;)?(canary=always)(;.*)?$"},
                          "user-agent": {"kind": "prefix", "value": "Firefox/1."}}}]
    assert route_rule("Host(`a.example`)", match) == (
        "(Host(`a.example`)) && ((Header(`x-canary`, `insider`)) || "
        "(HeaderRegexp(`cookie`, `^(?:^(.*?;)?(canary=always)(;.*)?$)$`) && "
        "HeaderRegexp(`user-agent`, `^Firefox/1\\.`)))")
    assert route_rule("Host(`a.example`)", match[:1], syntax="v2") == (
        "(Host(`a.example`)) && (Headers(`x-canary`, `insider`))")


def ab(**analysis):
    doc = yaml.safe_load(SEED_CANARY)
    doc["spec"]["analysis"].update(analysis)
    return doc


def test_iterations_and_match_make_one_step_at_100_per_iteration():
    parsed = parse_canary(ab(iterations=3, match=[{"headers": {"X-Canary": {"exact": "insider"}}}]))
    assert parsed["steps"] == [100, 100, 100]
    assert parsed["promotion_steps"] == []
    assert parsed["analysis"]["match"] == [{"headers": {"x-canary": {"kind": "exact", "value": "insider"}}}]
    assert any(w.startswith("spec.analysis.stepWeight is ignored") for w in parsed["warnings"])


@pytest.mark.parametrize("analysis, field, words", [
    ({"match": [{"headers": {"x": {"exact": "y"}}}]}, "spec.analysis.match", "needs spec.analysis.iterations"),
    ({"iterations": 0.5, "match": [{"headers": {"x": {"exact": "y"}}}]}, "spec.analysis.iterations",
     "integer between 1"),
    ({"iterations": 2, "match": {"headers": {}}}, "spec.analysis.match", "must be a list"),
    ({"iterations": 2, "match": [{"uri": {"prefix": "/api"}}]}, "spec.analysis.match[0].uri", "not supported"),
    ({"iterations": 2, "match": [{"headers": {"x": {"regex": "a(?=b)"}}}]},
     "spec.analysis.match[0].headers.x.regex", "lookahead"),
    ({"iterations": 2, "match": [{"headers": {"x": {"regex": "(a)\\1"}}}]},
     "spec.analysis.match[0].headers.x.regex", "backreferences"),
    ({"iterations": 2, "match": [{"headers": {"x": {"regex": "(open"}}}]},
     "spec.analysis.match[0].headers.x.regex", "not a valid regular expression"),
    ({"iterations": 2, "match": [{"headers": {"x": {"exact": "a", "prefix": "b"}}}]},
     "spec.analysis.match[0].headers.x", "exactly one of exact, prefix, regex"),
    ({"iterations": 2, "match": [{"headers": {"x": {"suffix": "b"}}}]},
     "spec.analysis.match[0].headers.x", "exactly one of exact, prefix, regex"),
    ({"iterations": 2, "match": [{"headers": {"x": {"exact": "a`b"}}}]},
     "spec.analysis.match[0].headers.x.exact", "backtick"),
    ({"iterations": 2, "match": [{"headers": {"bad header": {"exact": "a"}}}]},
     "spec.analysis.match[0].headers.bad header", "HTTP header name"),
    ({"iterations": 2, "match": [{"headers": {}}]}, "spec.analysis.match[0].headers", "at least one header"),
])
def test_bad_ab_testing_input_is_refused_naming_the_field(analysis, field, words):
    with pytest.raises(SpecError) as caught:
        parse_canary(ab(**analysis))
    assert caught.value.field == field, str(caught.value)
    assert words in str(caught.value)
