"""docs/design.md is the contract; these keep it current with the code: its scenario
example loads, and every path, flag, scenario key and results field the code has is
named in it (and every flag it names exists)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import textwrap

import pytest

from tests.support import ROOT, write_scenario
from shutdown_probe import cli
from shutdown_probe.paths import BUILTIN_PATHS
from shutdown_probe.results import CaseResult, Results
from shutdown_probe.scenario import (APP_KEYS, EXPECT_KEYS, TOP_KEYS, TRAFFIC_KEYS, load_scenario)

DESIGN = (ROOT / "docs" / "design.md").read_text()


def section(title: str) -> str:
    """The text of a ``##``/``###`` section, up to the next heading of any level."""
    m = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", DESIGN + "\n# end", re.S | re.M)
    assert m, title
    return m.group(1)


def indented_block(text: str) -> str:
    """The first block indented by four spaces."""
    m = re.search(r"((?:^    .*\n|^\n)+)", text, re.M)
    assert m
    return textwrap.dedent(m.group(1))


def test_the_scenario_example_loads(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "flask_atexit.py").write_text("")
    text = indented_block(section("Scenario file (TOML)"))
    scenario = load_scenario(write_scenario(tmp_path, text))
    assert [p.name for p in scenario.paths] == ["sigint", "sigterm", "sigkill", "sigkill-child", "os-exit",
                                                   "k8s-delete"]
    assert set(scenario.hooks) == {"atexit", "released"}


def test_every_builtin_path_is_in_the_table():
    table = section("Built-in termination paths (names are part of the contract)")
    named = set(re.findall(r"`([a-z0-9-]+)`", table))
    assert set(BUILTIN_PATHS) <= named


@pytest.mark.parametrize("command", ["run", "init", "check", "paths", "report"])
def test_the_synopsis_names_every_flag_and_only_real_ones(command):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    real = {opt for a in sub._actions if a.help != argparse.SUPPRESS for opt in a.option_strings
            if opt.startswith("--") and opt != "--help"}
    synopsis = re.search(rf"^    shutdown-probe {command}\b.*?(?=^    shutdown-probe |^$)",
                         section("Command line"), re.S | re.M)
    assert synopsis, command
    named = set(re.findall(r"--[a-z-]+", synopsis.group(0)))
    assert named == real


def test_every_scenario_key_is_named():
    text = section("Scenario file (TOML)")
    for key in (*TOP_KEYS, *APP_KEYS, *TRAFFIC_KEYS, *EXPECT_KEYS):
        assert f"`{key}`" in text or f"\n    {key} =" in text or f"[{key}" in text, key


def test_every_results_field_is_in_the_json_example():
    example = section("Results JSON (version 2)")
    for field in [*(f.name for f in dataclasses.fields(CaseResult)), *Results().to_dict()]:
        assert f'"{field}"' in example, field


def test_the_order_example_is_what_the_code_writes(tmp_path):
    """The results example's "order": flushed and atexit are lines on stdout, finally a
    sentinel. The same evidence, given to the code, must give the same order, word for
    word, and the example must load (its pairs name only hooks it lists)."""
    import json

    from shutdown_probe.evidence import FileHookDetector, LogHookDetector, observed_order
    from shutdown_probe.output import Line
    from shutdown_probe.scenario import HookSpec, compile_regex

    m = re.search(r'^ *"order": (\{.*?\]\}),\n', DESIGN, re.S | re.M)
    assert m
    example = json.loads(re.sub(r"#[^\n]*", "", m.group(1)))

    logs = {name: LogHookDetector(HookSpec(name=name, log=compile_regex(f"^{name}$"))) for name in ("flushed", "atexit")}
    for det in logs.values():
        det.arm(0.0, {"stdout": 0, "stderr": 0})
    sentinel = tmp_path / "finally"
    finally_ = FileHookDetector(HookSpec(name="finally", file=str(sentinel)), str(sentinel))
    finally_.arm(0.0)
    offset = 0
    for n, text in enumerate(["flushed", "atexit"], 1):
        offset += len(text) + 1
        for det in logs.values():
            det(Line("stdout", n, text, 0.0, offset))
    sentinel.write_text("done\n")
    written = observed_order({"flushed": logs["flushed"], "atexit": logs["atexit"], "finally": finally_})
    assert dataclasses.asdict(written) == example
    case = CaseResult.from_dict({"scenario": "s", "path": "sigterm", "outcome": "exited", "order": example})
    assert case.order == written
    hook_order = json.loads(re.search(r'^ *"hook_order": (\[.*?\]),', DESIGN, re.M).group(1))
    assert hook_order == written.hooks
