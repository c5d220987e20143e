"""The scenario's services in the reports (``CaseResult.services``): a cell per case
for the matrix, and a line per case for its details, saying which services ran, on
which port, and how each ended, a failed one first and marked.

A service's state at the end of a case (:data:`~shutdown_probe.results.ServiceState`):
``running`` (a run-scoped service, stopped at the run's end), ``stopped`` (a
case-scoped one the harness stopped after the case), ``died`` (it ended while the
case needed it), ``not-ready``, ``not-started``. The last three are failures.
"""

from __future__ import annotations

from ..results import CaseResult, ServiceRecord
from .cells import NOT_RAN

FAILED_STATES = ("died", "not-ready", "not-started")

_STATE_WORDS = {
    "running": "running when the case ended",
    "stopped": "stopped by the harness after the case",
    "died": "died while the case needed it",
    "not-ready": "never ready",
    "not-started": "not started",
}


def has_services(cases: list[CaseResult]) -> bool:
    """Whether the matrix needs a services column."""
    return any(case.services for case in cases)


def failed(svc: ServiceRecord) -> bool:
    return svc.state in FAILED_STATES


def _how_ended(svc: ServiceRecord) -> str:
    if svc.signal:
        return svc.signal
    if svc.returncode is not None:
        return f"rc {svc.returncode}"
    return ""


def service_cell(case: CaseResult, *, ports: bool = True) -> str:
    """``redis :6379``, ``redis :6379 ✗ died (SIGKILL)``, ``-`` without services.
    ``ports``: false for a row that stands for several runs (ports differ per run)."""
    parts = []
    for svc in case.services:
        text = svc.name + (f" :{svc.port}" if ports and svc.port else "")
        if failed(svc):
            how = _how_ended(svc)
            text += f" {NOT_RAN} {svc.state}" + (f" ({how})" if how else "")
        parts.append(text)
    return "; ".join(parts) or "-"


def service_text(svc: ServiceRecord) -> str:
    """One service, in words: 'redis (scope run) pid 412 port 6379, ready in 0.01 s,
    running when the case ended'."""
    where = " ".join(part for part in (f"pid {svc.pid}" if svc.pid else "",
                                       f"port {svc.port}" if svc.port else "") if part)
    text = f"{svc.name} (scope {svc.scope})" + (f" {where}" if where else "")
    if svc.ready_s is not None:
        text += f", ready in {svc.ready_s:.2f} s"
    text += f", {_STATE_WORDS.get(svc.state, svc.state)}"
    how = _how_ended(svc)
    if how:
        text += f" ({how}"
        if svc.ended_after_s is not None:
            at = svc.ended_after_s
            text += f", {at:.2f} s after the trigger" if at >= 0 else f", {-at:.2f} s before the trigger"
        text += ")"
    if svc.killed_by_harness:
        text += ", SIGKILLed when it outlived its stop_timeout"
    if svc.error:
        text += f": {svc.error}"
    return (f"{NOT_RAN} " if failed(svc) else "") + text


def services_line(case: CaseResult) -> str | None:
    """The case's line: 'services: redis (scope run) ... ; db (scope case) ...' (None
    without services)."""
    if not case.services:
        return None
    return "services: " + "; ".join(service_text(svc) for svc in case.services)
