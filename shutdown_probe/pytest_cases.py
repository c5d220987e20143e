"""The pytest plugin's working part: scenario items, the fixture, and the session's matrix.

:mod:`shutdown_probe.pytest_plugin` (the ``pytest11`` entry point) decides which files
are scenarios and imports this module only when a session may have cases: a scenario
file is collected, a test uses the ``shutdown_probe`` fixture, pytest-xdist's controller
starts (its workers may send it cases), or a session that imported the runner finishes
(the leftover sweep). Its hooks are registered then (:func:`activate`). A project
without scenarios never imports it. It is a thin layer over the library, like
pytest-xdist over execnet:

* collection: every case (scenario x path) of a scenario file is one item,
  ``scenarios/flask_atexit.toml::sigterm``;
* running: an item is :func:`~shutdown_probe.runner.run_case` and the scenario's
  expectations; the fixture ``shutdown_probe`` gives tests the same call;
* reporting: every case's :class:`~shutdown_probe.results.CaseResult` rides on its
  test report. That is how results from pytest-xdist workers reach the controller,
  which alone prints the matrix and writes the JSON and Markdown. Nothing is rerun.

Heavy modules (the runner pulls in requests and psutil, the renderers rich, the
scenario loader regex) are imported inside the functions that need them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import pytest

from .interrupts import Interruption
from .pytest_options import MARKER, REPORT_OPTIONS, fail_on_words, with_specs

if TYPE_CHECKING:  # pragma: no cover
    # pytest does not export the type its repr_failure returns
    from _pytest._code.code import TerminalRepr
    from pluggy import Result

    from .concurrency import Jobs
    from .paths import Path
    from .results import CaseResult, Results, ShardInfo
    from .scenario import Expectation, Scenario
    from .shards import Shard
    from .service_pool import ServicePool
    from .waiting import Flag

T = TypeVar("T")

# Results recorded while an item runs: each goes out on the item's next report, and
# the list is emptied once all its reports are logged (until then a session cut short
# still finds them on the item).
_PENDING = pytest.StashKey[list[dict[str, Any]]]()
_ATTACHED = pytest.StashKey[int]()  # how many of _PENDING have gone out on a report
_INDEX = pytest.StashKey[int]()
_SEQ = pytest.StashKey[int]()
_SHARD_INFO = pytest.StashKey["ShardInfo"]()  # --shutdown-probe-shard: what the results record
_MATRIX_PLUGIN = "shutdown_probe_matrix"
_CASES_PLUGIN = "shutdown_probe_cases"  # this module's hooks


# A traceback style pytest accepts (pytest does not export its own name for it).
TracebackStyle = Literal["long", "short", "line", "no", "native", "value", "auto"]


class WorkerNode(Protocol):
    """What this module reads of a pytest-xdist worker node (xdist has no type
    information): its config, its gateway (execnet's), and the dicts it sends."""

    config: pytest.Config
    gateway: object
    workerinput: dict[str, Any]


# ------------------------------------------------------------------ collection


class ScenarioFile(pytest.File):
    """One scenario file; its items are its paths."""

    def collect(self) -> Iterator[ScenarioItem]:
        from .scenario import load_scenario

        scenario = load_scenario(self.path, shown=_shown(self.config, self.path))
        specs: list[str | None] = [*with_specs(self.config)] or [None]
        for spec in specs:
            for path in scenario.paths:
                name = path.name if spec is None else f"{path.name}[{spec}]"
                yield ScenarioItem.from_parent(self, name=name, scenario=scenario, case_path=path, spec=spec)

    # pytest's Collector narrows Node.repr_failure (no style): this follows the Collector
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str | TerminalRepr:  # type: ignore[override]
        from .errors import ProbeError

        if isinstance(excinfo.value, ProbeError):  # a bad file: the CLI's one line, no traceback
            return str(excinfo.value)
        return super().repr_failure(excinfo)


_ENVS = pytest.StashKey[dict[str, Any]]()  # spec -> its BuiltEnv or EnvFailure, built once a session


def _under_spec(config: pytest.Config, scenario: Scenario, spec: str) -> Scenario:
    """``scenario`` run in the environment of ``spec`` (built on first use, from the
    cache after); a spec that cannot be installed fails the item in one line."""
    from .envs import EnvFailure, IndexOptions, SpecError, build_env
    from .scenario.resolution import Interpreter

    envs = config.stash.setdefault(_ENVS, {})
    if spec not in envs:
        try:
            envs[spec] = build_env(spec, IndexOptions.from_environment())
        except SpecError as exc:
            envs[spec] = EnvFailure(spec, str(exc))
    env = envs[spec]
    if isinstance(env, EnvFailure):
        pytest.fail(f"--shutdown-probe-with {spec!r}: cannot install it: {env.reason}", pytrace=False)
    return scenario.with_interpreter(Interpreter(env.python, env.bin_dir))


def _shown(config: pytest.Config, file_path: FsPath) -> str:
    """The file as the user would type it from where pytest was started."""
    rel = os.path.relpath(file_path, config.invocation_params.dir)
    return str(file_path) if rel.startswith("..") else rel


class CaseFailed(Exception):
    """A case errored or its expectations did not hold; the report explains."""

    def __init__(self, result: CaseResult, expectation: Expectation | None) -> None:
        super().__init__(f"{result.scenario}::{result.path}: {result.outcome}")
        self.result = result
        self.expectation = expectation


class ScenarioItem(pytest.Item):
    """One case: a scenario along one termination path."""

    def __init__(self, *, scenario: Scenario, case_path: Path, spec: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.case_path = case_path
        self.spec = spec  # --shutdown-probe-with: the environment it runs in
        self.add_marker(MARKER)

    def runtest(self) -> None:
        from .runner import Case, run_case

        keep = self.config.getoption("shutdown_probe_keep_workdirs")
        scenario = self.scenario if self.spec is None else _under_spec(self.config, self.scenario, self.spec)
        result = _running(
            self.session, lambda cancel: run_case(Case(scenario, self.case_path), cancel=cancel, keep_workdir=keep,
                                                  services=_services(self.config)),
            lambda result: record(self, judged(self.config, result), self.scenario.description))
        if result.outcome == "skipped":
            reason = result.skip_reason or "skipped"
            try:  # point -rs at the scenario file rather than at this line
                raise pytest.skip.Exception(reason, _use_item_location=True)
            except TypeError:  # a pytest without that (private) argument
                pytest.skip(reason)
        if result.failed:
            raise CaseFailed(result, self.scenario.expect.get(self.case_path.name))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: TracebackStyle | None = None) -> str | TerminalRepr:
        from .errors import ProbeError

        if isinstance(excinfo.value, CaseFailed):
            from .render.failure import format_case_failure

            return format_case_failure(excinfo.value.result, excinfo.value.expectation)
        if isinstance(excinfo.value, ProbeError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[FsPath, int, str]:
        return self.path, 0, f"{self.scenario.name}::{self.case_path.name}"


# ------------------------------------------------------------------ activation


def activate(config: pytest.Config) -> None:
    """Register this module's hooks and the session's matrix with ``config``, once.

    Registered late, when the session first has cases (see the module docstring), so
    a session without any never runs them.
    """
    manager = config.pluginmanager
    if manager.has_plugin(_MATRIX_PLUGIN):
        return
    manager.register(sys.modules[__name__], _CASES_PLUGIN)
    manager.register(SessionMatrix(config), _MATRIX_PLUGIN)


def keep_shard(config: pytest.Config, items: list[pytest.Item], shard: Shard) -> None:
    """Keep only ``shard``'s scenario items (dealt as ``run --shard`` deals cases) and,
    in shard 1, every other test; the others are deselected. What the shard is goes
    into the session's results (on a worker, to the controller with its output)."""
    from .shards import case_key, record

    scenario_items = [item for item in items if isinstance(item, ScenarioItem)]
    info = record([case_key(i.scenario.name, i.case_path.name) for i in scenario_items], shard)
    mine = {id(scenario_items[n]) for n in info["positions"]}

    def wanted(item: pytest.Item) -> bool:
        return id(item) in mine or (shard.index == 1 and not isinstance(item, ScenarioItem))

    kept = [item for item in items if wanted(item)]
    dropped = [item for item in items if not wanted(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    config.stash[_SHARD_INFO] = info


def index_items(session: pytest.Session) -> None:
    # Every xdist worker collects the same items in the same order, so an item's
    # index orders the final matrix the same way whichever worker ran it.
    for i, item in enumerate(session.items):
        item.stash[_INDEX] = i


def start_cases(session: pytest.Session) -> None:
    """Collection is over and some items run cases: take the signals for them."""
    activate(session.config)
    index_items(session)
    _stop(session.config).install(worker=hasattr(session.config, "workerinput"))


def start_controller(session: pytest.Session) -> None:
    """An xdist controller collects nothing itself: it takes the signals for its workers."""
    activate(session.config)
    _stop(session.config).install()


def finish_unstarted(session: pytest.Session) -> None:
    """The session is finishing and it imported the runner, but nothing started the
    working part: sweep what its cases may have left, and report it as usual."""
    if session.config.pluginmanager.has_plugin(_MATRIX_PLUGIN):
        return  # started: its own hooks finish it
    activate(session.config)
    matrix = session.config.pluginmanager.get_plugin(_MATRIX_PLUGIN)
    assert isinstance(matrix, SessionMatrix)
    matrix.pytest_sessionfinish(session)


def fixture_value(request: pytest.FixtureRequest) -> ShutdownProbe:
    """The ``shutdown_probe`` fixture's value (the entry module declares the fixture)."""
    activate(request.config)
    if _INDEX not in request.node.stash:  # asked for at run time (getfixturevalue): unmarked
        index_items(request.session)
    return ShutdownProbe(request.node)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's
def pytest_testnodeready(node: WorkerNode) -> None:
    # execnet keeps the worker's Popen on the gateway's IO (not a public attribute)
    popen = getattr(getattr(node.gateway, "_io", None), "popen", None)
    pid = getattr(popen, "pid", None)
    if isinstance(pid, int):
        _stop(node.config).add_worker(str(getattr(node.gateway, "id", "?")), pid)


# ------------------------------------------------------------------ an interrupted session


_STOP = pytest.StashKey[Interruption]()


def _stop(config: pytest.Config) -> Interruption:
    """The session's interruption state (an inner pytester session has its own).

    The policy is :mod:`shutdown_probe.interrupts`, the CLI's. Here the main thread
    runs the cases itself, so a third signal gives up (a KeyboardInterrupt wherever
    it lands, for a case that does not stop), a first one between cases is pytest's
    own KeyboardInterrupt, and a signal pytest's caller ignored stays ignored. Under
    pytest-xdist each worker with cases moves to a process group of its own, so a
    Ctrl-C (sent to the terminal's whole group) or a ``kill -TERM -PGID`` reaches the
    controller alone, which passes every signal on to each worker exactly once; xdist
    stops the session when a worker reports ``shouldstop``, and the controller, which
    gathers every report, writes them and exits 128 + N.
    """
    if _STOP not in config.stash:
        config.stash[_STOP] = Interruption(give_up_after=3, take_ignored=False)
    return config.stash[_STOP]


def _running(session: pytest.Session, call: Callable[[Flag], T], keep: Callable[[T], None]) -> T:
    """``call(cancel)`` runs cases and ``keep(value)`` records them, as cases running
    (:meth:`Interruption.run`); an interruption stops the session after them."""
    stop = _stop(session.config)
    try:
        return stop.run(call, keep)
    finally:
        if stop.signum is not None:
            session.shouldstop = f"interrupted by {stop.name}"


def pytest_unconfigure(config: pytest.Config) -> None:
    _close_services(config)
    _stop(config).uninstall()


# ------------------------------------------------------------------ the session's services


_POOL = pytest.StashKey["ServicePool"]()


def _services(config: pytest.Config) -> ServicePool:
    """The session's scenario services (one pool per session, or per xdist worker)."""
    if _POOL not in config.stash:
        from .service_pool import ServicePool

        config.stash[_POOL] = ServicePool()
    return config.stash[_POOL]


def _close_services(config: pytest.Config) -> None:
    pool = config.stash.get(_POOL, None)
    if pool is not None:
        pool.close()


class CaseInterrupted(Exception):
    """The session was interrupted while a test was running cases."""


# ------------------------------------------------------------------ results on reports


def judged(config: pytest.Config, result: CaseResult) -> CaseResult:
    """``result`` with the session's --fail-on findings (policy.py, the CLI's policy)."""
    from .policy import apply_policy, parse_fail_on

    apply_policy([result], parse_fail_on(fail_on_words(config)))
    return result


def record(item: pytest.Item, result: CaseResult, description: str = "") -> None:
    """Keep ``result`` for the session's reports and the item's JUnit properties."""
    from .render.failure import row_properties

    seq = item.stash.get(_SEQ, 0)
    item.stash[_SEQ] = seq + 1
    item.stash.setdefault(_PENDING, []).append({
        "order": [item.stash.get(_INDEX, -1), seq],
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
        "description": description,
        "case": result.to_dict(),
    })
    # A scenario item is one row; a test using the fixture may run several, so each
    # of its rows is named.
    prefix = "shutdown_probe" if isinstance(item, ScenarioItem) else \
        f"shutdown_probe[{result.scenario}::{result.path}]"
    item.user_properties.extend(row_properties(result, prefix=prefix))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    pending = item.stash.get(_PENDING, [])
    attached = item.stash.get(_ATTACHED, 0)
    if len(pending) > attached:
        # Plain data on the report: pytest-xdist serialises report attributes, which
        # is how a worker's cases reach the controller.
        setattr(outcome.get_result(), "shutdown_probe", pending[attached:])
        item.stash[_ATTACHED] = len(pending)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None,
                            ) -> Generator[None, Result[object], None]:
    outcome = yield
    if outcome.excinfo is None:  # every report of the item is logged: delivered
        item.stash[_PENDING] = []
        item.stash[_ATTACHED] = 0
    # the run-scoped services of a scenario live until its last item in a row: the
    # next item keeps those of its own scenario, every other scenario's stop now
    pool = item.config.stash.get(_POOL, None)
    if pool is not None:
        pool.release_except(nextitem.scenario if isinstance(nextitem, ScenarioItem) else None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _stop(session.config).finishing = True  # signals from now on wait for the reports
    _close_services(session.config)  # before the matrix's sweep for leftovers


def _undelivered(session: pytest.Session) -> list[dict[str, Any]]:
    """What an item cut short (a KeyboardInterrupt) recorded but never logged."""
    return [entry for item in session.items for entry in item.stash.get(_PENDING, [])]


class SessionMatrix:
    """Gathers every case from the reports; on the controller, writes and prints them."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.entries: dict[tuple[int, int], dict[str, Any]] = {}
        self.messages: list[str] = []
        self.leaked = False  # a process of this session (or of a worker) was left behind
        self._results: Results | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.gather(getattr(report, "shutdown_probe", None) or ())

    def gather(self, entries: Iterable[dict[str, Any]]) -> None:
        for entry in entries:
            # keyed by position: a rerun of the same test replaces its earlier result
            self.entries[tuple(entry["order"])] = entry

    def results(self) -> Results:
        """Every gathered case, in collection order (built once: entries are final by then)."""
        if self._results is None:
            self._results = self._build()
        return self._results

    def _build(self) -> Results:
        from .environment import environment_info
        from .processes import capabilities
        from .results import Results

        ordered = [self.entries[k] for k in sorted(self.entries)]
        workers = sorted({e["worker"] for e in ordered if e["worker"]})
        stop = _stop(self.config)
        environment = environment_info(runner="pytest", workers=len(workers) or None,
                                       capabilities=capabilities().as_dict())
        if stop.name is not None:
            environment["interrupted_by"] = stop.name
        shard = self.config.stash.get(_SHARD_INFO, None)
        if shard is not None:
            environment["shard"] = shard
        results = Results(environment=environment)
        for entry in ordered:
            case = _read_back(entry["case"])
            results.cases.append(case)
            results.scenarios.setdefault(case.scenario, entry["description"])
        return results

    # Before other plugins' (pytest's own --junitxml): one of them failing to write its
    # file must not cost these reports.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        stop = _stop(self.config)
        stop.finishing = True  # this may run before the module's hook that says so
        # the handlers stay (pytest_unconfigure restores them): a signal now is counted
        _close_services(self.config)  # the services are stopped, not swept as leftovers
        self.leaked |= _sweep_leftovers(self.messages)
        if self.leaked and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if stop.signum is not None:
            session.exitstatus = 128 + stop.signum
            self.messages.append(f"interrupted by {stop.name}: the cases still running were stopped "
                                 "and their processes killed")
        if self.is_worker:
            # The controller prints; xdist hands it this dict when the worker ends.
            output: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]  # xdist sets it on a worker's config
            output["shutdown_probe_messages"] = list(self.messages)
            output["shutdown_probe_leaked"] = self.leaked
            output["shutdown_probe_undelivered"] = _undelivered(session)
            shard = self.config.stash.get(_SHARD_INFO, None)
            if shard is not None:  # every worker deals the same items alike
                output["shutdown_probe_shard"] = dict(shard)
            return
        self.gather(_undelivered(session))
        if not self.entries and stop.signum is None:
            return  # no case ran (an interrupted session still writes what it has: nothing)
        targets = {fmt: self.config.getoption(option) for option, fmt in REPORT_OPTIONS.items()}
        if any(targets.values()):
            from .reports import write_reports  # the CLI's: each report on its own

            for report in write_reports(self.results(), targets):
                if report.ok:
                    self.messages.append(f"wrote {len(self.results().cases)} cases to {report.target}")
                else:
                    self.messages.append(f"--shutdown-probe-{report.kind} {report.target}: {report.error}")
                    session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        from . import github

        if github.on_github() and self.entries:  # the CLI's job summary, once per session
            problem = github.write_summary(self.results())
            if problem:
                self.messages.append(problem)

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: absent without xdist
    def pytest_testnodedown(self, node: WorkerNode, error: object) -> None:
        worker = node.workerinput.get("workerid", "?")
        output = getattr(node, "workeroutput", {})
        self.leaked |= bool(output.get("shutdown_probe_leaked"))
        self.gather(output.get("shutdown_probe_undelivered", []))
        if output.get("shutdown_probe_shard") is not None:
            self.config.stash[_SHARD_INFO] = output["shutdown_probe_shard"]
        for line in output.get("shutdown_probe_messages", []):
            self.messages.append(f"[{worker}] {line}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        show = self.entries and not self.config.getoption("shutdown_probe_no_matrix") and \
            self.config.getini("shutdown_probe_matrix")
        if show:
            from .render import format_terminal
            from .render.layout import PIPED_WIDTH

            # A CI log is not a terminal: wide tables read better there than lists.
            width = terminalreporter._tw.fullwidth if terminalreporter.isatty else PIPED_WIDTH
            terminalreporter.write_sep("=", "shutdown-probe matrix")
            terminalreporter.write(format_terminal(self.results(), width=width))
        for line in self.messages:
            terminalreporter.write_line(f"shutdown-probe: {line}")
        from . import github

        if github.on_github() and self.entries and not self.is_worker:
            for command in github.error_commands(self.results()):
                terminalreporter.write_line(command)


def _read_back(data: dict[str, Any]) -> "CaseResult":
    """One case from the dict it travelled as. A case the reader refuses (a value past
    its bounds that slipped into the results) becomes an error row saying so: it must
    not cost the session every other case's report."""
    from .errors import ResultsError
    from .results import CaseResult

    try:
        return CaseResult.from_dict(data)
    except ResultsError as exc:
        def text(key: str) -> str:
            value = data.get(key) if isinstance(data, dict) else None
            return value if isinstance(value, str) else "?"

        return CaseResult(scenario=text("scenario"), path=text("path"), outcome="error",
                          error=f"its results could not be read back: {exc}")


def _sweep_leftovers(messages: list[str]) -> bool:
    """Backstop: kill anything this process's cases left behind, and say so.

    run_case already never returns with a process alive; this catches a bug in that
    promise instead of leaving it to the CI machine.
    """
    if "shutdown_probe.runner" not in sys.modules:
        return False  # no case ran in this process
    import psutil

    from .processes import tagged_processes
    from .runner import tag_prefix

    left = tagged_processes(tag_prefix())
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:  # already gone
            pass
    if left:
        messages.append("killed processes a case left behind (a shutdown-probe bug, please report it): pids "
                        + ", ".join(str(p.pid) for p in left))
    return bool(left)


# ------------------------------------------------------------------ the fixture


class ShutdownProbe:
    """The ``shutdown_probe`` fixture: run scenarios from a test, get their results.

    >>> result = shutdown_probe.run("scenarios/flask_atexit.toml", path="sigterm")
    >>> assert result.hooks["atexit"].ran

    Every case run here also appears in the session's matrix, JSON and Markdown.
    """

    def __init__(self, node: pytest.Item) -> None:
        self._node = node
        self.results: list[CaseResult] = []  # every case this test ran, in order

    def scenario(self, name: str | None = None, **fields: Any) -> Scenario:
        """A scenario built in code; keywords as :func:`~shutdown_probe.make_scenario`.

        ``name`` defaults to the test's name; ``cwd`` and ``{scenario_dir}`` are the
        test file's folder unless ``base_dir`` says otherwise.
        """
        from .scenario import make_scenario

        # the module's name too: two test files may well both have a test_sigterm
        name = name or f"{self._node.path.stem}::{self._node.name}"
        fields.setdefault("base_dir", self._node.path.parent)
        return make_scenario(name, shown=f"{self._node.nodeid}: scenario {name!r}", **fields)

    def load(self, file: str | os.PathLike[str]) -> Scenario:
        """Load a scenario file: absolute, or relative to the working folder, the rootdir
        or the test file's folder (the first that exists)."""
        from .scenario import load_scenario

        given = FsPath(file)
        found = given
        if not given.is_absolute():
            for base in (FsPath.cwd(), self._node.config.rootpath, self._node.path.parent):
                if (base / given).exists():
                    found = base / given
                    break
        return load_scenario(found, shown=str(file))

    def run(self, scenario: Scenario | str | os.PathLike[str], path: str | None = None, *,
            keep_workdir: bool = False) -> CaseResult:
        """Run one case and return what it observed (expectations are evaluated, not
        asserted: check ``result.expect.passed`` or the hooks yourself)."""
        from .runner import Case, run_case

        scenario = self._scenario(scenario)
        case = Case(scenario, _pick_path(scenario, path))
        result = _running(
            self._node.session, lambda cancel: run_case(case, cancel=cancel, keep_workdir=keep_workdir,
                                                        services=_services(self._node.config)),
            lambda result: self._keep(result, scenario))
        self._check_interrupted()
        return result

    def run_paths(self, scenario: Scenario | str | os.PathLike[str], paths: list[str] | None = None, *,
                  jobs: Jobs = 1, keep_workdirs: bool = False) -> dict[str, CaseResult]:
        """Run several paths (default: all the scenario's) and return path -> result;
        ``jobs`` at a time, or ``"auto"`` as the CLI's default does."""
        from .runner import Case, run_cases

        scenario = self._scenario(scenario)
        chosen = list(scenario.paths) if paths is None else [_pick_path(scenario, p) for p in paths]
        cases = [Case(scenario, p) for p in chosen]
        def keep(results: Results) -> None:
            for result in results.cases:
                self._keep(result, scenario)

        results = _running(self._node.session, lambda cancel: run_cases(
            cases, jobs=jobs, cancel=cancel, keep_workdirs=keep_workdirs, services=_services(self._node.config)), keep)
        self._check_interrupted()
        return {r.path: r for r in results.cases}

    def _check_interrupted(self) -> None:
        stop = _stop(self._node.config)
        if stop.signum is not None:  # the results are kept; the test goes no further
            raise CaseInterrupted(f"interrupted by {stop.name}: the session stops here")

    def _scenario(self, scenario: Scenario | str | os.PathLike[str]) -> Scenario:
        if isinstance(scenario, (str, os.PathLike)):
            return self.load(scenario)
        return scenario

    def _keep(self, result: CaseResult, scenario: Scenario) -> None:
        self.results.append(result)
        record(self._node, judged(self._node.config, result), scenario.description)


def _pick_path(scenario: Scenario, name: str | None) -> Path:
    from .errors import UsageError

    names = [p.name for p in scenario.paths]
    if name is None:
        if len(scenario.paths) == 1:
            return scenario.paths[0]
        raise UsageError(f"scenario {scenario.name!r} has {len(names)} paths ({', '.join(names)}); "
                         "say which one: run(..., path='sigterm'), or use run_paths()")
    return scenario.path_named(name)  # listed, or any built-in path (the CLI's --path rule too)
