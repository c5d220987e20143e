"""Whom a signal trigger signals: its ``to``, ``role``, ``cmdline`` and ``nth`` turned
into processes of the running case, with how they were chosen in words.

The selectors (``[triggers.NAME]`` with ``signal = ...``):

* ``to = "root"``: the process the harness launched; ``"group"``: its process group,
  in one kernel call (the case's fire phase sends it);
* ``to = "busy"``: every process that holds one of the traffic's in-flight requests,
  found in the kernel's socket table (the server side of each request's connection,
  and the process that has its inode open); ``"idle"``: the oldest worker holding
  none. When the scenario declares ``[app] busy = { log = REGEX }`` (a worker system
  without HTTP traffic), the app's own line says it instead, on every path: ``busy``
  is the process the latest matching line names (its ``pid`` group,
  :mod:`~shutdown_probe.busyline`), which must be a live process of the app;
  ``idle`` the oldest worker other than it. Without either, both skip the case;
* ``to = "every-worker"``: every worker at once;
* ``role``, ``cmdline``: the processes whose probe role (``Probe.kinds``) or harness
  role is ``role`` and whose command line matches the regex ``cmdline``, oldest
  first; ``nth = N`` takes the N-th of them (default the first). ``nth`` alone: the
  N-th worker.

A worker is one of the app's serving processes: those the Python probe named
(:data:`SERVING_KINDS`) when it saw any alive, else the root's children; never one
of multiprocessing's helpers (:mod:`~shutdown_probe.mphelpers`), never the process
of a trigger or preStop action. "Oldest" goes by start time (the kernel's, in clock
ticks), then by PID.

A selector that matches nothing chooses nothing: :attr:`Aimed.skip` says why, and
the case is skipped; nothing else is ever signalled instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .busyline import BusyWatch
from .handles import ProcessHandle, action_of, cmdline_of, created, parent_pid
from .patterns import REGEX_TIMEOUT, line_matcher, shown
from .processes import CaseProcesses
from .roles import MP_CHILD, RELOADER_CHILD, WORKER
from .scenario import AimSpec

# The probe's names for processes that serve (the reloader's serving child, a
# pre-forking server's worker, a multiprocessing child)
SERVING_KINDS = (WORKER, RELOADER_CHILD, MP_CHILD)


@dataclass(frozen=True)
class Aimed:
    """The processes chosen (empty for the group, or when ``skip`` says why none)."""

    handles: tuple[ProcessHandle, ...] = ()
    how: str = ""
    skip: str | None = None
    group: bool = False
    kinds: dict[int, str] = field(default_factory=dict)  # pid -> the probe's role, for those chosen


def _age(h: ProcessHandle) -> tuple[float, int]:
    return created(h.ps), h.pid


def _who(h: ProcessHandle, kinds: dict[int, str]) -> str:
    kind = kinds.get(h.pid)
    return f"{h.role}{f' ({kind})' if kind and kind != h.role else ''} pid {h.pid}"


def app_processes(tree: CaseProcesses) -> list[ProcessHandle]:
    """The app's live processes (not an action's), oldest first."""
    return sorted((h for h in tree.live() if not action_of(h.role)), key=_age)


def workers(tree: CaseProcesses, kinds: dict[int, str]) -> tuple[list[ProcessHandle], str]:
    """The app's workers, oldest first, and what made them workers, in words."""
    live = [h for h in app_processes(tree) if tree.helper_kind(h) is None]
    named = [h for h in live if kinds.get(h.pid) in SERVING_KINDS]
    if named:
        return named, f"the processes the probe named {', '.join(sorted({kinds[h.pid] for h in named}))}"
    return [h for h in live if parent_pid(h.ps) == tree.root.pid], "the root's children"


def choose(aim: AimSpec, tree: CaseProcesses, kinds: dict[int, str],
           busy: dict[int, list[int]] | None, watch: BusyWatch | None = None) -> Aimed:
    """The processes ``aim`` names now. ``busy``: pid -> the in-flight requests it
    holds (from the kernel's socket table), None when the path has no traffic;
    ``watch``: the app's lines naming the busy process, when ``[app] busy`` is declared
    (it then decides ``busy`` and ``idle``)."""
    if aim.to == "root":
        return Aimed((tree.root,), "the root: the process the harness launched", kinds=kinds)
    if aim.to == "group":
        return Aimed(how=f"the root's process group ({tree.started.pid}), in one kernel call", group=True)
    if aim.to in ("busy", "idle") and watch is not None:
        return _by_line(aim, tree, kinds, watch)
    if aim.to in ("busy", "idle") and busy is None:
        return Aimed(skip=f"to = '{aim.to}' needs evidence of who is busy, and this path has neither requests "
                          "in flight nor a line naming the busy process (add [traffic] with in_flight = 1 or "
                          "more and this path in traffic.paths, or [app] busy = { log = 'REGEX' } whose "
                          "(?P<pid>...) group names the process doing the work)")
    if aim.to == "busy":
        assert busy is not None
        held = [h for h in app_processes(tree) if h.pid in busy]
        if not held:
            return Aimed(skip="no process of the app holds an in-flight request (the kernel's socket table "
                              "shows none of the traffic's connections open in the app)")
        held.sort(key=lambda h: min(busy[h.pid]))
        how = "; ".join(f"{_who(h, kinds)} holds in-flight request "
                        f"{', '.join(f'#{n}' for n in busy[h.pid])}" for h in held)
        return Aimed(tuple(held), f"{how} (the server side of each connection in the kernel's socket table)",
                     kinds=kinds)
    return _among_workers(aim, tree, kinds, busy)


def _by_line(aim: AimSpec, tree: CaseProcesses, kinds: dict[int, str], watch: BusyWatch) -> Aimed:
    """``busy`` and ``idle`` from the app's latest line naming the busy process."""
    line = watch.latest()
    if line is None:
        return Aimed(skip=watch.nothing_named())
    live = app_processes(tree)
    named = next((h for h in live if h.pid == line.pid), None)
    said = f"named by the app's latest line matching [app] busy.log ({line.where()})"
    if named is None:
        alive = ", ".join(_who(h, kinds) for h in live) or "none alive"
        return Aimed(skip=f"pid {line.pid}, {said}, is not a live process of the app ({alive}); nothing "
                          "outside the case is signalled")
    if aim.to == "busy":
        return Aimed((named,), f"{_who(named, kinds)}: {said}", kinds=kinds)
    ws, source = workers(tree, kinds)
    others = [h for h in ws if h.pid != named.pid]
    if not others:
        what = "the app has no worker" if not ws else "its only worker is the busy one"
        return Aimed(skip=f"no idle worker to signal: {what} ({_who(named, kinds)} is busy, {said}; "
                          f"workers: {source})")
    return Aimed((others[0],), f"{_who(others[0], kinds)}: the oldest of the workers ({source}) other than "
                               f"the busy one, {_who(named, kinds)} {said}; of {len(others)} other"
                               f"{'s' if len(others) != 1 else ''} (the line says nothing of whether they are "
                               "busy too)", kinds=kinds)


def _among_workers(aim: AimSpec, tree: CaseProcesses, kinds: dict[int, str],
                   busy: dict[int, list[int]] | None) -> Aimed:
    ws, source = workers(tree, kinds)
    if aim.to == "idle":
        assert busy is not None
        idle = [h for h in ws if h.pid not in busy]
        if not idle:
            what = "the app has no worker" if not ws else "every worker holds an in-flight request"
            return Aimed(skip=f"no idle worker to signal: {what} (workers: {source})")
        return Aimed((idle[0],), f"{_who(idle[0], kinds)}: the oldest of the workers ({source}) holding no "
                                 f"in-flight request, of {len(idle)} idle", kinds=kinds)
    if aim.to == "every-worker":
        if not ws:
            return Aimed(skip=f"the app has no worker to signal (workers: {source})")
        return Aimed(tuple(ws), f"every worker ({source}): {', '.join(_who(h, kinds) for h in ws)}", kinds=kinds)
    if aim.role is None and aim.cmdline is None:
        n = aim.nth or 1
        if len(ws) < n:
            return Aimed(skip=f"nth = {n}, and the app has {len(ws)} worker{'s' if len(ws) != 1 else ''} "
                              f"({source})")
        return Aimed((ws[n - 1],), f"{_who(ws[n - 1], kinds)}: worker {n} of {len(ws)} by start time ({source})",
                     kinds=kinds)
    return _matching(aim, tree, kinds)


def _matching(aim: AimSpec, tree: CaseProcesses, kinds: dict[int, str]) -> Aimed:
    """``role`` and ``cmdline``: among every live process of the app, oldest first."""
    found = []
    match = line_matcher(aim.cmdline) if aim.cmdline is not None else None
    for h in app_processes(tree):
        if aim.role is not None and aim.role not in (h.role, kinds.get(h.pid)):
            continue
        if match is not None:
            try:
                if not match(cmdline_of(h.ps) or h.cmdline):
                    continue
            except TimeoutError:
                return Aimed(skip=f"the cmdline regex {shown(aim.cmdline.pattern) if aim.cmdline else ''} took "
                                  f"longer than {REGEX_TIMEOUT:g} s on the command line of {_who(h, kinds)}")
        found.append(h)
    n = aim.nth or 1
    if len(found) < n:
        have = f"only {len(found)} process{'es' if len(found) != 1 else ''} matched" if found else "nothing matched"
        return Aimed(skip=f"no process of the app matches {aim.describe()}: {have} among "
                          f"{', '.join(_who(h, kinds) for h in app_processes(tree)) or 'none alive'}")
    chosen = found[n - 1]
    return Aimed((chosen,), f"{_who(chosen, kinds)}: {n} of {len(found)} with {aim.describe(nth=False)}, by "
                            "start time",
                 kinds=kinds)
