"""bisect's search and a step's verdict, as pure functions (the runs are faked here:
tests/faces/test_versions.py runs real ones)."""

from __future__ import annotations

from collections.abc import Callable

from shutdown_probe.bisect import Step, bisect_versions, case_verdict, path_verdicts
from shutdown_probe.releases import _file_version, _filtered
from shutdown_probe.results import CaseResult, ExpectResult, HookResult, Results

VERSIONS = [f"1.{n}" for n in range(10)]


def _steps(first_changed: str, skipped: frozenset[str] = frozenset()) -> tuple[Callable[[str], Step], list[str]]:
    tried: list[str] = []

    def run(version: str) -> Step:
        tried.append(version)
        if version in skipped:
            return Step(version, "skipped", reason="cannot install")
        changed = VERSIONS.index(version) >= VERSIONS.index(first_changed)
        return Step(version, "decided", {"sigint": "changed" if changed else "same"})

    return run, tried


def test_the_search_finds_each_possible_first_change_in_few_steps() -> None:
    for first in VERSIONS[1:]:
        run, tried = _steps(first)
        out = bisect_versions(VERSIONS, run)
        assert out.first_changed is not None and out.last_same is not None
        assert (out.last_same.version, out.first_changed.version) == (VERSIONS[VERSIONS.index(first) - 1], first)
        assert len(tried) <= 2 + 4  # the ends, then log2(8) rounded up, plus one
        assert len(set(tried)) == len(tried)  # never the same version twice


def test_skipped_versions_are_stepped_around_and_named_when_between() -> None:
    run, _ = _steps("1.5", skipped=frozenset({"1.4", "1.0"}))
    out = bisect_versions(VERSIONS, run)
    assert out.last_same is not None and out.first_changed is not None
    # 1.0 (an end) moved inwards to 1.1; 1.4 cannot be decided: the change is in 1.4..1.5
    assert (out.last_same.version, out.first_changed.version) == ("1.3", "1.5")
    assert out.skipped_between == ["1.4"]


def test_ends_that_agree_have_no_flip() -> None:
    run, tried = _steps("1.9")
    out = bisect_versions(VERSIONS[:5], run)
    assert not out.found and out.why.startswith("no flip: 1.0 and 1.4")
    assert tried == ["1.0", "1.4"]


def _case(path: str, *, passed: bool | None = None, hooks: tuple[str, ...] = (), signal: str | None = None) -> CaseResult:
    case = CaseResult(scenario="s", path=path, outcome="exited")
    case.exit = {"returncode": None if signal else 0, "signal": signal}
    case.hooks = {h: HookResult(ran=True, evidence="") for h in hooks}
    if passed is not None:
        case.expect = ExpectResult(passed=passed, declared=True)
    return case


def test_a_verdict_is_the_expectations_when_declared_else_what_was_seen() -> None:
    assert case_verdict(_case("sigint", passed=True)) == "expectations held"
    assert case_verdict(_case("sigint", passed=False)).startswith("expectations did not hold")
    assert case_verdict(_case("sigterm", hooks=("b", "a"), signal="SIGTERM")) == "exited, SIGTERM; ran: a, b"
    assert case_verdict(_case("sigterm")) == "exited, rc 0; ran: nothing"


def test_runs_that_disagree_leave_their_path_undecided() -> None:
    results = Results(cases=[_case("sigint", passed=True), _case("sigint", passed=False),
                             _case("sigkill", passed=True), _case("sigkill", passed=True)])
    decided, split = path_verdicts(results)
    assert decided == {"sigkill": "expectations held"}
    assert list(split) == ["sigint"] and len(split["sigint"]) == 2


def test_the_listing_keeps_final_unyanked_releases_that_fit_this_python() -> None:
    files = {"1.0": [(False, None)], "1.1": [(True, None)], "2.0rc1": [(False, None)], "1.10": [(False, None)],
             "1.2": [(False, ">=4")], "1.3": [(True, None), (False, ">=3.8")], "1.0.dev1": [(False, None)]}
    listing = _filtered(files, "test")
    assert listing.versions == ["1.0", "1.3", "1.10"]  # as versions, not as text: 1.10 after 1.3
    assert listing.left_out["1.1"] == "yanked" and listing.left_out["1.2"].startswith("requires Python >=4")


def test_file_names_give_their_version() -> None:
    assert _file_version("Sp.Fixture_pkg", "sp_fixture_pkg-2.0-py3-none-any.whl") == "2.0"
    assert _file_version("uvicorn", "uvicorn-0.30.0.tar.gz") == "0.30.0"
    assert _file_version("uvicorn", "uvicorn_worker-0.1-py3-none-any.whl") is None
