"""Running many cases: expanding scenarios into cases, and scheduling them.

:func:`expand_cases` turns scenarios into cases (scenario x path x attempt), made as
they are needed; :func:`run_cases` runs them on a few threads and collects their
results in case order. One case, phase by phase, is :mod:`~shutdown_probe.pipeline`
(:func:`run_case`); an interrupted harness ends every running case with
:func:`abort_all`. Those, and what a case is (:class:`Case`, its tag), are named here
too: the CLI and the pytest plugin import them from this module.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Sequence, overload

from . import namespaces, watchdog
from .capabilities import capabilities
from .concurrency import AUTO, Admission, Jobs, cpu_count, most_at_once
from .case import RUN_ID, SESSION_ENV, Case, tag_prefix
from .kills import KILL_GRACE
from .paths import Path
from .pipeline import OUTPUT_GRACE, abort_all, run_case
from .environment import environment_info
from .errors import UsageError
from .ports import lease_port
from .results import CaseResult, Results
from .scenario import Scenario
from .service_pool import ServicePool
from .waiting import Flag

__all__ = [
    "KILL_GRACE", "MAX_CASES", "OUTPUT_GRACE", "RUN_ID", "SESSION_ENV", "Case", "CaseList", "ServicePool",
    "TooManyCases",
    "abort_all", "expand_cases", "lease_port", "run_case", "run_cases", "tag_prefix",
]


# A run keeps every case's result until its reports are written (a few KB to a few
# hundred KB each), so it has at most this many cases; `run --repeat 1000000000` is a
# typo, not a plan. 100,000 cases of the bundled scenarios are about 0.9 GB of JSON.
MAX_CASES = 100_000


class TooManyCases(UsageError):
    """More cases were asked for than :data:`MAX_CASES`; the message is one line."""


class CaseList(Sequence[Case]):
    """The cases of a run, made when asked for: scenario x path x attempt, in file
    order, the runs of one path next to each other. ``--repeat`` multiplies the cases,
    and a list would hold every one of them before the first could start."""

    def __init__(self, pairs: list[tuple[Scenario, Path]], repeat: int = 1) -> None:
        self._pairs = pairs
        self._repeat = max(repeat, 1)
        self._where = {(id(s), p.name): n for n, (s, p) in enumerate(pairs)}

    def __len__(self) -> int:
        return len(self._pairs) * self._repeat

    @overload
    def __getitem__(self, i: int) -> Case: ...

    @overload
    def __getitem__(self, i: slice) -> list[Case]: ...

    def __getitem__(self, i: int | slice) -> Case | list[Case]:
        if isinstance(i, slice):
            return [self[n] for n in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("case index out of range")
        scenario, path = self._pairs[i // self._repeat]
        return Case(scenario, path, i % self._repeat + 1 if self._repeat > 1 else None)

    def index(self, case: Case, *_: object) -> int:
        """Where ``case`` stands in the run, without walking the list."""
        n = self._where.get((id(case.scenario), case.path.name))
        if n is None or (case.attempt or 1) > self._repeat:
            raise ValueError(f"{case.id} is not a case of this run")
        return n * self._repeat + (case.attempt or 1) - 1

    def distinct(self) -> list[Case]:
        """One case per scenario x path (the first run of each)."""
        return [Case(s, p, 1 if self._repeat > 1 else None) for s, p in self._pairs]

    def __repr__(self) -> str:
        return f"<CaseList {len(self._pairs)} paths x {self._repeat} runs>"


def expand_cases(scenarios: Iterable[Scenario], only: Iterable[str] = (), *, repeat: int = 1) -> CaseList:
    """Scenario x path, in file order; ``only`` keeps just the named paths: a path
    name (``sigkill``) for every scenario, ``SCENARIO::PATH`` for one.

    With ``repeat`` > 1 every case is run that many times, the runs of one path next
    to each other (attempt 1..N): shutdown races show up as runs that disagree. The
    cases are made as they are needed; more than :data:`MAX_CASES` in all raises
    :class:`TooManyCases`.
    """
    keep = set(only)
    pairs = [(s, p) for s in scenarios for p in s.paths
             if not keep or p.name in keep or f"{s.name}::{p.name}" in keep]
    total = len(pairs) * max(repeat, 1)
    if total > MAX_CASES:
        raise TooManyCases(f"{len(pairs)} path(s) x {repeat} run(s) = {total} cases, more than the {MAX_CASES} "
                           "one run may have (every result is kept until the reports are written); "
                           "ask for fewer runs or paths, or split the run")
    return CaseList(pairs, repeat)


def _distinct(cases: Sequence[Case]) -> list[Case]:
    """One case per scenario x path of ``cases``, without walking a long CaseList."""
    if isinstance(cases, CaseList):
        return cases.distinct()
    seen: dict[tuple[int, str], Case] = {}
    for case in cases:
        seen.setdefault((id(case.scenario), case.path.name), case)
    return list(seen.values())


# ------------------------------------------------------------------ many cases


def run_cases(
    cases: Sequence[Case],
    *,
    jobs: Jobs = 1,
    cancel: Flag | None = None,
    on_start: Callable[[Case], None] | None = None,
    on_done: Callable[[Case, CaseResult], None] | None = None,
    keep_workdirs: bool = False,
    services: ServicePool | None = None,
) -> Results:
    """Run ``cases`` (``jobs`` at a time) and collect their results in case order.

    ``jobs="auto"`` is :mod:`shutdown_probe.concurrency`'s policy: up to several
    cases per CPU, started while the CPUs have room. Each worker takes the next
    case when it is free, so a long
    :class:`CaseList` is never turned into a list, nor into one queued task per case.
    The scenarios' services of scope "run" are started once for all of their cases
    and stopped at the end: in ``services`` when given (the caller closes it), else
    in a pool of this run's own.
    """
    if services is None:
        own = ServicePool()
        try:
            return run_cases(cases, jobs=jobs, cancel=cancel, on_start=on_start, on_done=on_done,
                             keep_workdirs=keep_workdirs, services=own)
        finally:
            own.close()
    admission = Admission(cpu_count()) if jobs == AUTO else None
    most = most_at_once(jobs, len(cases))
    caps = capabilities()
    watchdog.ensure(RUN_ID)
    info = caps.as_dict()
    distinct = _distinct(cases)
    if any(c.path.profile is not None and c.path.profile.pid1 for c in distinct):
        info.update(namespaces.environment())  # which PID namespace and init the run had
    results = Results(environment=environment_info(jobs=most, capabilities=info))
    for case in distinct:
        results.scenarios.setdefault(case.scenario.name, case.scenario.description)
    done: dict[int, CaseResult] = {}  # case index -> its result
    taken = iter(range(len(cases)))
    taking = threading.Lock()

    def one(i: int) -> None:
        case = cases[i]
        if cancel is not None and cancel.is_set():
            return
        if admission is not None and not admission.enter(lambda: cancel is not None and cancel.is_set()):
            return
        try:
            if on_start:
                on_start(case)
            res = run_case(case, cancel=cancel, keep_workdir=keep_workdirs, services=services)
        finally:
            if admission is not None:
                admission.leave()
        done[i] = res
        if on_done:
            on_done(case, res)

    def worker() -> None:
        while True:
            with taking:
                i = next(taken, None)
            if i is None:
                return
            one(i)

    if most <= 1 or len(cases) <= 1:  # (no cases: an empty shard)
        worker()
    else:
        workers = min(most, len(cases))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shutdown-probe-case") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            for f in futures:
                f.result()
    results.cases = [done[i] for i in sorted(done)]
    return results
