"""Reading results JSON back (issue 18, item 9): `report` on any file answers with a
matrix (exit 0 or 1) or one line naming the file and the key (exit 2), never a
traceback; a file from a newer harness (keys this one does not know) still loads.

``tests/data/results.json`` was written by a real run of ten cases chosen to fill
every part of the model (traffic, stop profiles with a preStop action, a second
Ctrl-C and a final SIGKILL, a trigger action, an injected exception, a hung case
with the harness's SIGKILL, an orphan, a failed expectation)::

    shutdown-probe run scenarios/flask_dev_traffic.toml scenarios/flask_atexit_noreload.toml \\
        scenarios/pid1_job_runner.toml scenarios/uvicorn_asgi.toml scenarios/sigterm_handle_exit.toml \\
        tests/data/stubborn.toml tests/data/daemon.toml --grace 1 --jobs 2 -q \\
        --path flask-dev-traffic::sigterm --path flask-atexit-noreload::os-exit \\
        --path flask-atexit-noreload::inject-exception --path flask-atexit-noreload::double-ctrl-c \\
        --path pid1-job-runner::docker-stop-init --path sigterm-handle-exit::k8s-delete \\
        --path uvicorn-asgi::sigkill --path stubborn::sigterm --path stubborn::k8s-delete \\
        --path daemon::sigterm --json tests/data/results.json

The fuzz mutates that file: a value anywhere replaced by any JSON value, a key
deleted or added, the text cut short. Reproducible in CI as in test_fuzz_scenarios.py
(derandomize, no example database); SHUTDOWN_PROBE_FUZZ=explore searches wider.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import DATA, EXPLORE, fuzz_settings
from shutdown_probe import cli
from shutdown_probe.errors import ResultsError
from shutdown_probe.results import CaseResult, load_results

FIXTURE = DATA / "results.json"


def kept(written, loaded) -> bool:
    """Whether everything ``written`` holds is in ``loaded``, unchanged. Keys the model
    gained after the fixture was written (``order``, ``strays``, a process's
    ``attributed_by``...) may be added: the fixture is also an older harness's file."""
    if isinstance(written, dict):
        return isinstance(loaded, dict) and all(k in loaded and kept(v, loaded[k]) for k, v in written.items())
    if isinstance(written, list):
        return isinstance(loaded, list) and len(written) == len(loaded) and all(map(kept, written, loaded))
    return type(written) is type(loaded) and written == loaded


BASE = json.loads(FIXTURE.read_text())


def report(path: Path, *extra: str) -> tuple[int, str, str]:
    """`shutdown-probe report` in this process (a traceback fails the test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["report", str(path), "--width", "140", *extra])
    return status, out.getvalue(), err.getvalue()


def assert_matrix_or_one_line(path: Path, *extra: str) -> int:
    status, out, err = report(path, *extra)
    if status == 2:
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"shutdown-probe: {path}: "), lines[0]
        assert "Traceback" not in err
    else:
        assert status in (0, 1), (status, err)
        # (a file with no case has an empty matrix); a version 1 file gets its one note
        assert err == "" or (err.count("\n") == 1 and ": results version 1: " in err), err
    return status


def write(tmp_path: Path, data, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# ---- the twelve files of the issue (and a few more), each with the key to name

def mutated(change):
    data = copy.deepcopy(BASE)
    change(data)
    return data


def _set(path, value):
    def change(data):
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


# Case 4 ran waiting, released and atexit (its hook_order); an order the harness could
# have written for it, and a claim, which the fixture's cases do not have.
ORDER = {"hooks": ["waiting", "released", "atexit"],
         "known": [{"first": "waiting", "then": "released", "clock": "stdout"}],
         "unknown": [{"hooks": ["released", "atexit"], "why": "one is a log line, the other a file"},
                     {"hooks": ["waiting", "atexit"], "why": "one is a log line, the other a file"}]}


def rich(data):
    data["cases"][4]["order"] = copy.deepcopy(ORDER)
    data["cases"][4]["expect"].update(claim="atexit runs on docker stop", verdict="confirmed")


RICH = mutated(rich)


def _order(change):
    def both(data):
        rich(data)
        change(data["cases"][4]["order"])
    return both


BAD = [
    ("top-level-list", [BASE], None, "expected a JSON object"),
    ("hooks-list", mutated(_set(("cases", 3, "hooks"), [])), "cases[3].hooks", "expected an object"),
    ("outcome-object", mutated(_set(("cases", 0, "outcome"), {})), "cases[0].outcome", "expected a string"),
    ("environment-list", mutated(_set(("environment",), [])), "environment", "expected an object"),
    ("nested-100k", "[" * 100_000 + "]" * 100_000, None, "nested too deeply"),
    ("exit-string", mutated(_set(("cases", 1, "exit"), "SIGKILL")), "cases[1].exit", "expected an object"),
    ("scenario-null", mutated(_set(("cases", 2, "scenario"), None)), "cases[2].scenario", "expected a string"),
    ("duration-fast", mutated(_set(("cases", 2, "duration_s"), "fast")), "cases[2].duration_s", "expected a number"),
    ("cases-object", mutated(_set(("cases",), {})), "cases", "expected an array"),
    ("case-number", mutated(_set(("cases", 4), 7)), "cases[4]", "expected an object"),
    ("pid-bool", mutated(_set(("cases", 0, "processes", 0, "pid"), True)), "cases[0].processes[0].pid",
     "expected a whole number"),
    ("exit-signal-number", mutated(_set(("cases", 1, "exit", "signal"), 9)), "cases[1].exit.signal",
     "expected a string"),
    ("stack-of-numbers", mutated(_set(("cases", 2, "probe", "injected", 0, "stack"), [1, 2])),
     "cases[2].probe.injected[0].stack[0]", "expected a string"),
    ("packages-list", mutated(_set(("environment", "packages"), ["flask"])), "environment.packages",
     "expected an object"),
    ("request-missing-kind", mutated(lambda d: d["cases"][0]["traffic"]["requests"][0].pop("kind")),
     "cases[0].traffic.requests[0].kind", "missing"),
    ("duration-infinite", json.dumps(BASE).replace('"duration_s": 0.', '"duration_s": Infinity, "x": 0.', 1),
     "cases[0].duration_s", "expected a number, got Infinity"),
    ("version-3", mutated(_set(("version",), 3)), "version", "unsupported results version 3"),
    ("not-json", '{"version": 1, "cases": [', None, "not JSON"),
    ("not-utf8", b'{"version": 1, "tool": "\xff"}', None, "not UTF-8"),
    # values of the right type outside their fixed set, and an order that contradicts itself
    ("request-outcome-banana", mutated(_set(("cases", 0, "traffic", "requests", 0, "outcome"), "banana")),
     "cases[0].traffic.requests[0].outcome", "expected one of completed, error-status"),
    ("request-kind-banana", mutated(_set(("cases", 0, "traffic", "requests", 0, "kind"), "banana")),
     "cases[0].traffic.requests[0].kind", "expected one of in-flight, queued, new"),
    ("verdict-banana", mutated(lambda d: (rich(d), d["cases"][4]["expect"].update(verdict="banana"))),
     "cases[4].expect.verdict", "expected one of confirmed, refuted, untested"),
    ("case-outcome-banana", mutated(_set(("cases", 2, "outcome"), "banana")), "cases[2].outcome",
     "expected one of exited"),
    ("order-known-stranger", mutated(_order(lambda o: o["known"][0].update(then="nobody"))), "cases[4].order",
     "known[0] names 'nobody', which is not in 'hooks'"),
    ("order-unknown-one", mutated(_order(lambda o: o["unknown"][0].update(hooks=["atexit"]))), "cases[4].order",
     "unknown[0].hooks is not a pair"),
    ("order-unknown-three", mutated(_order(lambda o: o["unknown"][1]["hooks"].append("released"))),
     "cases[4].order", "unknown[1].hooks is not a pair"),
]


def test_the_rich_fixture_loads_and_renders(tmp_path):
    path = write(tmp_path, RICH)
    assert kept(RICH, load_results(path).to_dict())
    assert assert_matrix_or_one_line(path, "--markdown", str(tmp_path / "out.md"), "--compat",
                                     str(tmp_path / "compat.md"), "--matrix") == 1


def test_the_literal_sets_are_the_ones_the_harness_uses():
    """The outcomes a scenario may expect are the ones a results file may hold."""
    import typing

    from shutdown_probe.results import CaseOutcome
    from shutdown_probe.scenario import OUTCOMES

    assert set(typing.get_args(CaseOutcome)) == set(OUTCOMES)


def test_report_writes_its_files_before_printing_the_matrix(tmp_path, monkeypatch):
    """A renderer failing on the matrix costs one line, not the report files."""
    import shutdown_probe.render as render

    def broken(results, width):
        raise KeyError("banana")

    monkeypatch.setattr(render, "build_tables", broken)
    md = tmp_path / "out.md"
    status, out, err = report(FIXTURE, "--markdown", str(md), "--matrix")
    assert status == 2 and md.is_file()
    assert err.splitlines() == ["shutdown-probe: the matrix could not be printed: KeyError: 'banana'"]


def test_a_file_from_an_older_harness_loads_with_defaults(tmp_path):
    """Keys added since version 1 came out (attempt, wall_s, probe_order, traffic...)
    may be missing: the model's defaults stand in."""
    def older(data):
        for case in data["cases"]:
            for key in ("attempt", "wall_s", "probe_order", "traffic", "stop", "trigger_clock", "ready_s",
                        "root_exit_s", "escalations", "probe", "workdir"):
                case.pop(key, None)
        data.pop("scenarios")

    results = load_results(write(tmp_path, mutated(older)))
    assert [c.traffic for c in results.cases] == [None] * 10
    assert_matrix_or_one_line(tmp_path / "results.json", "--html", str(tmp_path / "r.html"))


def test_a_case_from_an_xdist_worker_is_checked_the_same_way():
    case = copy.deepcopy(BASE["cases"][0])
    assert kept(case, CaseResult.from_dict(case).to_dict())
    case["hooks"] = []
    with pytest.raises(ResultsError) as info:
        CaseResult.from_dict(case, file="worker gw1")
    assert str(info.value).startswith("worker gw1: case.hooks: ")


# ---- the fuzz

def _paths(node, prefix=()):
    """Every key path in the document, containers before what they hold."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = list(_paths(BASE))

# Text the model may hold anywhere. Brackets (rich markup), control characters and lone
# surrogates are left out here: making every renderer treat them as plain text is
# item 5 of issue 18, tested with the renderers; this fuzz is about types and shapes.
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="[]"), max_size=30)
NUMBERS = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, -1, 1e15, 1e16, -1e300, 2**63, 0.5]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT,
                    st.sampled_from(["SIGKILL", "root", "exited", "hung", "in-flight", "completed", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


@st.composite
def mutations(draw):
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        try:
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            if path:
                parent[path[-1]]  # still there after an earlier mutation?
        except (KeyError, IndexError, TypeError):
            continue
        what = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not path:
            data = draw(VALUES) if what == "replace" else data
        elif what == "replace":
            parent[path[-1]] = draw(VALUES)
        elif what == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif what == "delete":
            parent.pop(path[-1])
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(TEXT)] = draw(VALUES)
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]].append(draw(VALUES))
    text = json.dumps(data)
    if draw(st.integers(0, 9)) == 0:  # now and then, a file cut short
        text = text[:draw(st.integers(0, len(text)))]
    return text


# Values of the right type that may still be wrong: a string from one of the model's
# fixed sets or a hook's name (it may land where another set is wanted, or name a hook
# the order does not list), or random text; a list of strings of another length.
def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


RICH_PATHS = [p for p in _paths(RICH) if p]
def _allowed() -> set[str]:
    """Every value of the model's fixed sets (its Literal types)."""
    import typing

    from shutdown_probe import results

    return {v for name in dir(results) if typing.get_origin(getattr(results, name)) is typing.Literal
            for v in typing.get_args(getattr(results, name))}


WORDS = st.one_of(st.sampled_from(sorted({w for w in _strings(RICH) if len(w) < 40} | _allowed() | {"banana"})),
                  TEXT)


def _like(draw, old):
    if isinstance(old, bool):
        return draw(st.booleans())
    if isinstance(old, (int, float)):
        return draw(st.one_of(st.integers(-10, 10**6), st.floats(-1e6, 1e6)))
    if isinstance(old, str):
        return draw(WORDS)
    if isinstance(old, list) and all(isinstance(x, str) for x in old):
        return draw(st.lists(WORDS, max_size=4))
    return old


@st.composite
def same_type_mutations(draw):
    data = copy.deepcopy(RICH)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(RICH_PATHS))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = _like(draw, parent[path[-1]])
    return json.dumps(data)


@pytest.mark.timeout(0 if EXPLORE else 300)
@fuzz_settings(300)
@given(same_type_mutations(), st.sampled_from([(), ("--markdown",), ("--compat",), ("--html",)]))
def test_report_answers_a_matrix_or_one_line_for_values_of_the_right_type(text, flags):
    with _folder() as folder:
        path = folder / "results.json"
        path.write_text(text)
        extra: list[str] = []
        for flag in flags:  # --matrix: the matrix is rendered too, with the files
            extra += [flag, str(folder / ("out" + flag.replace("-", "."))), "--matrix"]
        assert_matrix_or_one_line(path, *extra)


@pytest.mark.timeout(0 if EXPLORE else 300)
@fuzz_settings(300)
@given(mutations(), st.sampled_from([(), ("--markdown",), ("--compat",), ("--html",)]))
def test_report_answers_a_matrix_or_one_line_for_any_mutation(text, flags):
    with _folder() as folder:
        path = folder / "results.json"
        path.write_text(text)
        extra: list[str] = []
        for flag in flags:  # --matrix: the matrix is rendered too, with the files
            extra += [flag, str(folder / ("out" + flag.replace("-", "."))), "--matrix"]
        assert_matrix_or_one_line(path, *extra)


@contextlib.contextmanager
def _folder():
    """A fresh folder per example (hypothesis runs many examples in one test call)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="shutdown-probe-results-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)




def test_a_version_1_file_reads_and_report_says_what_it_could_not_tell_apart(tmp_path):
    path = write(tmp_path, mutated(_set(("version",), 1)))
    results = load_results(path)
    assert results.version == 1 and len(results.cases) == len(BASE["cases"])
    status, out, err = report(path)
    assert status in (0, 1) and out
    (line,) = err.splitlines()
    assert line.startswith(f"shutdown-probe: {path}: results version 1: ") and "ignored" in line
