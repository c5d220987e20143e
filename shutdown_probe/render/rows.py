"""The shape of the matrix: a table per scenario, a column per hook, a row per case,
where the runs of a repeated path (``--repeat``) share one row."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..results import CaseResult, Results
from ..behaviour import role_of
from .cells import exit_cell, hook_cell, orphans_cell, time_cell, unnumbered, verify_cell
from .services import service_cell
from .traffic import drained_cell, new_requests_cell, port_cell


def by_scenario(results: Results) -> dict[str, list[CaseResult]]:
    """Title -> cases. Two files that use one scenario name get a table each, titled
    with their file, rather than one table with every path twice."""
    files: dict[str, set[str]] = {}
    for case in results.cases:
        files.setdefault(case.scenario, set()).add(case.scenario_file)
    groups: dict[str, list[CaseResult]] = {}
    for case in results.cases:
        title = case.scenario
        if len(files[case.scenario]) > 1:
            title = f"{case.scenario} ({case.scenario_file})"
        groups.setdefault(title, []).append(case)
    return groups


def hook_names(cases: list[CaseResult]) -> list[str]:
    names: list[str] = []
    for case in cases:
        for name in case.hooks:
            if name not in names:
                names.append(name)
    return names


def check_names(cases: list[CaseResult]) -> list[str]:
    """The [verify] checks these cases ran, in the order first seen."""
    names: list[str] = []
    for case in cases:
        for rec in case.verify:
            if rec.name not in names:
                names.append(rec.name)
    return names


@dataclass
class Row:
    """One line of a matrix: a case, or every run of a repeated path (``--repeat``)."""

    label: str
    failed: bool
    hooks: list[str]  # one cell per hook name
    traffic: list[str]  # drained, new requests, port (empty without traffic columns)
    exit: str
    time: str
    orphans: str
    checks: list[str]  # one cell per [verify] check name (after the hooks)
    services: str | None = None  # the services cell (None: the matrix has no such column)


def _orphans_shape(case: CaseResult) -> str:
    """The orphans cell without pids and port numbers, which differ from run to run:
    each orphan by its role (:func:`~shutdown_probe.behaviour.role_of`), "listening"
    where it held a port (the numbers follow the combined cell, see :func:`_ports`)."""
    by_pid = {p.pid: p for p in case.processes}
    shapes = Counter((role_of(by_pid[o.pid]) if o.pid in by_pid else unnumbered([o.role])[0],
                      " listening" if o.listening else "", " (killed)" if o.killed_by_harness else "")
                     for o in case.orphans)
    parts = [f"{role}{'' if n == 1 else f'×{n}'}{listening}{killed}"
             for (role, listening, killed), n in sorted(shapes.items())]
    parts += ["stray?" + (" (killed)" if s.killed_by_harness else "") for s in case.strays]
    return "; ".join(parts) or "-"


def _ports(ports: list[int]) -> str:
    """The port numbers a combined cell stands for (each run leases its own)."""
    unique = list(dict.fromkeys(ports))
    return f" ({', '.join(f':{p}' for p in unique)})" if unique else ""


def _orphan_ports(cases: list[CaseResult]) -> list[int]:
    return [port for c in cases for o in c.orphans for port in o.listening]


def _held_ports(cases: list[CaseResult]) -> list[int]:
    return [c.traffic.port for c in cases if c.traffic is not None and c.traffic.held_by and c.traffic.port]


_SECONDS = re.compile(r"^(\d+\.\d+) s$")


def _combined(values: list[str]) -> str:
    """One cell for several runs: the value they share, a range of times, or each
    value with how many runs had it."""
    counts = Counter(values)
    if len(counts) == 1:
        return values[0]
    times = [_SECONDS.match(v) for v in values]
    if all(times):
        secs = sorted(float(m.group(1)) for m in times if m)
        return f"{secs[0]:.2f}–{secs[-1]:.2f} s"
    return " · ".join(f"{v} ×{n}" for v, n in counts.most_common())


def _services_combined(cases: list[CaseResult]) -> str:
    """The services cell of several runs: with the port when every run had the same
    (a run-scoped service), else without it (a service started per case)."""
    cells = [service_cell(c) for c in cases]
    if len(set(cells)) == 1:
        return cells[0]
    return _combined([service_cell(c, ports=False) for c in cases])


def rows(cases: list[CaseResult], hooks: list[str], traffic: bool, checks: list[str] | None = None,
         services: bool = False) -> list[Row]:
    """The matrix's rows, in case order; the runs of a repeated path share one row
    (``sigterm ×20``) whose cells say where the runs differed. ``checks``: the
    [verify] columns (default: every check the cases ran); ``services``: fill the
    services cell."""
    names = check_names(cases) if checks is None else checks

    def row(case: CaseResult, orphans: str, one: bool = True) -> Row:
        return Row(case.label, case.failed, [hook_cell(case, h, numbered=one) for h in hooks],
                   [drained_cell(case), new_requests_cell(case), port_cell(case, number=one)] if traffic else [],
                   exit_cell(case), time_cell(case), orphans, [verify_cell(case, n) for n in names],
                   service_cell(case) if services else None)

    order: list[CaseResult | str] = []  # a case, or the name of a repeated path
    runs: dict[str, list[CaseResult]] = {}
    for case in cases:
        if case.attempt is None:
            order.append(case)
            continue
        if case.path not in runs:
            runs[case.path] = []
            order.append(case.path)
        runs[case.path].append(case)
    out: list[Row] = []
    for item in order:
        if isinstance(item, CaseResult):
            out.append(row(item, orphans_cell(item)))
            continue
        group = runs[item]
        each = [row(c, _orphans_shape(c), one=False) for c in group]
        cells = [_combined([r.traffic[i] for r in each]) for i in range(len(each[0].traffic))]
        if cells:  # the port column: the numbers of the ports held to the end
            cells[-1] += _ports(_held_ports(group))
        out.append(Row(f"{item} ×{len(each)}", any(r.failed for r in each),
                       [_combined([r.hooks[i] for r in each]) for i in range(len(hooks))], cells,
                       _combined([r.exit for r in each]), _combined([r.time for r in each]),
                       _combined([r.orphans for r in each]) + _ports(_orphan_ports(group)),
                       [_combined([r.checks[i] for r in each]) for i in range(len(names))],
                       _services_combined(group) if services else None))
    return out
