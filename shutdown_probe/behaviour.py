"""What a case did, in a form two runs can be compared by: roles, not labels.

The harness names a case's processes by where they sit and when they were found
(``child``, ``child-2``...), and gives them pids: both change from run to run while the
app does the same thing. A case's :class:`Behaviour` keeps what does not: each
process by its role (the framework role the probe saw, :mod:`.roles`; else
multiprocessing's helper told by its command line; else the harness's role without its
number) with how it ended and which hooks ran in it, as a multiset per role, so that
which of two workers was ``child`` and which ``child-2`` never counts. Then the case's
outcome, each hook's mark, what became of the requests in flight, the order the
hooks were seen in, and each [verify] check's answer (passed, failed, error).

:func:`compare` folds the runs of one path into a :class:`Comparison`: what was
compared, and for each thing that was not the same in every run, the values seen and
which runs saw each (typed, for every renderer; none of it is parsed back from words).
Timings, pids, ports and how many new requests were sent always differ and are left out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from .mphelpers import mp_helper
from .results import NOT_OBSERVED, REQUEST_OUTCOMES, CaseResult, ProcessRecord

# What a Comparison compares, in the order differences are listed.
Aspect = Literal["outcome", "process", "hook", "in-flight", "order", "atexit-order", "check"]
ASPECTS: tuple[Aspect, ...] = ("outcome", "process", "hook", "in-flight", "order", "atexit-order", "check")

# how a process's end came about, besides the path and the app themselves
EndedBy = Literal["", "harness", "stopper"]

# A hook's mark in one case: ran; did not run; could not be watched to the end.
HookMark = Literal["ran", "ran, raised", "cut short", "ran, cut short", "not ran", "not seen"]

_NUMBER = re.compile(r"-\d+$")
# the harness's own processes: never the app's behaviour
_NOT_THE_APP = frozenset({"launcher"})


def role_of(process: ProcessRecord) -> str:
    """A process's role, the same in every run: its framework role when the probe
    knew it, else multiprocessing's helper by its command line, else the harness's role
    without the number it got from the order it was found in (``child-2`` is a
    ``child``). The root is always named as the root."""
    name = process.kind or mp_helper(process.cmdline) or _NUMBER.sub("", process.role)
    if process.role == "root":
        return "root" if name == "root" else f"{name} (root)"
    return name


@dataclass(frozen=True)
class Fate:
    """What became of one process: how it ended, by whose hand, which hooks ran in it
    and which were cut short there. No pid, no time, no number."""

    returncode: int | None = None
    signal: str | None = None
    exit_known: bool = True  # False: it ended, but how is not known
    ended: bool = True  # False: still running when last looked at
    by: EndedBy = ""
    hooks: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()
    orphan: bool = False  # it outlived the root and the stop timeout
    orphan_fate: str | None = None  # an orphan watched: "exited" in the watch, or "running" at its end
    respawned: bool = False  # started after the path fired

    @property
    def end(self) -> str:
        """How it ended, in words: "rc 0", "SIGTERM", "SIGKILL by the harness"."""
        if not self.ended:
            return "still running"
        if self.signal:
            text = self.signal
        elif self.returncode is not None:
            text = f"rc {self.returncode}"
        else:
            text = "ended, status unknown"
        return text + {"": "", "harness": " by the harness", "stopper": " by the stopper"}[self.by]

    def words(self) -> str:
        orphan = f"orphan ({self.orphan_fate}), " if self.orphan_fate else "orphan, " if self.orphan else ""
        parts = [("respawned, " if self.respawned else "") + orphan + self.end]
        if self.hooks:
            parts.append("ran " + ", ".join(self.hooks))
        if self.cut:
            parts.append("cut short in " + ", ".join(self.cut))
        return "; ".join(parts)


def fate_of(case: CaseResult, process: ProcessRecord) -> Fate:
    """How ``process`` of ``case`` ended and what ran in it."""
    by: EndedBy = "harness" if process.killed_by_harness else "stopper" if process.killed_by_stop else ""
    ended = process.ended_after_s is not None or process.returncode is not None or process.signal is not None
    known = process.returncode is not None or process.signal is not None
    return Fate(returncode=process.returncode, signal=process.signal, exit_known=known or not ended,
                ended=ended, by=by,
                hooks=tuple(sorted(n for n, h in case.hooks.items() if h.ran and process.pid in h.pids)),
                cut=tuple(sorted(n for n, h in case.hooks.items() if process.pid in h.interrupted_pids)),
                orphan=any(o.pid == process.pid for o in case.orphans),
                orphan_fate=next((o.fate for o in case.orphans if o.pid == process.pid), None),
                respawned=process.started_after_s is not None)


def hook_mark(case: CaseResult, name: str) -> HookMark:
    hook = case.hooks.get(name)
    if hook is None or (not hook.ran and not hook.interrupted_pids and not hook.observed):
        return "not seen"
    if hook.ran and hook.interrupted_pids:
        return "ran, cut short"
    if hook.interrupted_pids:
        return "cut short"
    if hook.ran:
        return "ran, raised" if hook.errors else "ran"
    return "not ran"


@dataclass(frozen=True)
class Behaviour:
    """One case, as far as it can be compared with another run of the same path."""

    outcome: str
    # role -> the fates of its processes, a sorted multiset (see role_of)
    processes: tuple[tuple[str, tuple[Fate, ...]], ...] = ()
    hooks: tuple[tuple[str, HookMark], ...] = ()
    # the requests in flight: outcome -> how many; None without traffic
    in_flight: tuple[tuple[str, int], ...] | None = None
    # the pairs of declared hooks one clock saw in an order: (first, then), sorted
    order: tuple[tuple[str, str], ...] = ()
    order_partial: bool = False  # some pairs of hooks that ran were seen by no one clock
    atexit_order: tuple[str, ...] = ()  # the probe's atexit hooks, by when they started
    # each [verify] check's answer: passed, failed or error (its words, a row count,
    # may differ while the answer is the same)
    checks: tuple[tuple[str, str], ...] = ()


def _fate_key(fate: Fate) -> str:
    return fate.words()


def behaviour(case: CaseResult) -> Behaviour:
    """The comparable part of ``case``. A case that did not run to the end (skipped,
    not ready, an error) is its outcome alone: nothing else was observed."""
    if case.outcome in NOT_OBSERVED:
        return Behaviour(case.outcome)
    by_role: dict[str, list[Fate]] = {}
    for p in case.processes:
        if p.role not in _NOT_THE_APP:
            by_role.setdefault(role_of(p), []).append(fate_of(case, p))
    processes = tuple((role, tuple(sorted(fates, key=_fate_key))) for role, fates in sorted(by_role.items()))
    in_flight = None
    if case.traffic is not None:
        counts: Counter[str] = Counter(r.outcome for r in case.traffic.requests if r.kind == "in-flight")
        in_flight = tuple((o, counts[o]) for o in REQUEST_OUTCOMES if counts[o])
    order = case.order
    return Behaviour(
        outcome=case.outcome, processes=processes,
        hooks=tuple((name, hook_mark(case, name)) for name in sorted(case.hooks)),
        in_flight=in_flight,
        order=tuple(sorted((p.first, p.then) for p in order.known)) if order is not None else (),
        order_partial=order is not None and bool(order.unknown),
        atexit_order=tuple(case.probe_order),
        checks=tuple(sorted((rec.name, rec.verdict) for rec in case.verify)))


# ------------------------------------------------------------------------- comparing runs


@dataclass(frozen=True)
class Variant:
    """One value an aspect took, and the runs (their ``attempt`` numbers) that saw it.
    ``fates``: for a process aspect, the fates of that role's processes in those runs
    (empty when the runs had no process of that role)."""

    text: str
    runs: tuple[int, ...]
    fates: tuple[Fate, ...] = ()


@dataclass(frozen=True)
class Difference:
    """An aspect that was not the same in every run: ``name`` is the role (process),
    the hook (hook), or empty; ``variants`` most runs first."""

    aspect: Aspect
    name: str
    variants: tuple[Variant, ...]

    @property
    def label(self) -> str:
        return {"outcome": "outcome", "process": self.name, "hook": f"hook {self.name}",
                "in-flight": "requests in flight", "order": "hook order", "atexit-order": "atexit order",
                "check": f"check {self.name}"}[self.aspect]


@dataclass(frozen=True)
class Comparison:
    """The runs of one path side by side. ``compared``: the aspects that were compared
    (an agreement is on these only); ``differences``: those that were not the same;
    ``unknown``: what the runs agree on only because it was not seen (a process whose
    exit status could not be learned, hooks no single clock ordered)."""

    path: str
    runs: tuple[int, ...]
    compared: tuple[Aspect, ...]
    differences: tuple[Difference, ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def agree(self) -> bool:
        return not self.differences


def _values(b: Behaviour) -> dict[tuple[Aspect, str], tuple[str, tuple[Fate, ...]]]:
    """(aspect, name) -> (the value in words, the fates it stands for)."""
    out: dict[tuple[Aspect, str], tuple[str, tuple[Fate, ...]]] = {("outcome", ""): (b.outcome, ())}
    if b.outcome in NOT_OBSERVED:
        return out
    for role, fates in b.processes:
        counts = Counter(f.words() for f in fates)
        text = " + ".join(w if n == 1 else f"{w} ×{n}" for w, n in counts.items())
        out[("process", role)] = (text, fates)
    for name, mark in b.hooks:
        out[("hook", name)] = (mark, ())
    if b.in_flight is not None:
        text = ", ".join(f"{n} {o}" for o, n in b.in_flight) or "none in flight"
        out[("in-flight", "")] = (text, ())
    if len(b.hooks) > 1:  # an order needs two hooks
        out[("order", "")] = (", ".join(f"{a} → {c}" for a, c in b.order) or "none seen", ())
    if b.atexit_order:
        out[("atexit-order", "")] = (" → ".join(b.atexit_order), ())
    for name, verdict in b.checks:
        out[("check", name)] = (verdict, ())
    return out


def compare(cases: list[CaseResult]) -> Comparison:
    """The runs ``cases`` (of one path) compared by behaviour (see the module)."""
    runs = tuple(case.attempt or 0 for case in cases)
    values = [_values(behaviour(case)) for case in cases]
    keys: list[tuple[Aspect, str]] = []
    for v in values:
        keys += [k for k in v if k not in keys]
    keys.sort(key=lambda k: (ASPECTS.index(k[0]), k[1]))
    differences = []
    for key in keys:
        seen: dict[str, tuple[list[int], tuple[Fate, ...]]] = {}
        for run, v, case in zip(runs, values, cases):
            if key[0] != "outcome" and case.outcome in NOT_OBSERVED:
                continue  # a run that did not run to the end saw nothing else
            text, fates = v.get(key, ("none", ()))
            seen.setdefault(text, ([], fates))[0].append(run)
        if len(seen) > 1:
            variants = sorted((Variant(text, tuple(r), fates) for text, (r, fates) in seen.items()),
                              key=lambda var: (-len(var.runs), var.runs))
            differences.append(Difference(key[0], key[1], tuple(variants)))
    compared = tuple(a for a in ASPECTS if any(k[0] == a for k in keys))
    return Comparison(cases[0].path if cases else "", runs, compared, tuple(differences), _unknown(cases))


def _unknown(cases: list[CaseResult]) -> tuple[str, ...]:
    """What no run could see, so that no agreement is claimed on it."""
    out = []
    unknown_exits = sum(1 for case in cases if case.outcome not in NOT_OBSERVED for p in case.processes
                        if p.role not in _NOT_THE_APP and not fate_of(case, p).exit_known)
    if unknown_exits:
        out.append(f"the exit status of {unknown_exits} process{'es' if unknown_exits > 1 else ''}")
    if any(case.order is not None and case.order.unknown for case in cases):
        out.append("the order of some hooks")
    return tuple(out)
