"""Expectations: compare what a case observed with what the scenario declared.

Every check gives one line: a failure when it did not hold, evidence when it did, so a
claim (``claim = "..."``) can be shown confirmed or refuted with what was seen.
"""

from __future__ import annotations

import dataclasses

from .policy import within_grace
from .results import (INCOMPLETE, CaseResult, ClaimVerdict, ExpectResult, FailedKey, HookResult, OrderPair,
                      UnknownOrder, VerifyRecord)
from .scenario import PROBE_HOOK_PREFIX, Expectation


def evaluate(expectation: Expectation | None, result: CaseResult) -> ExpectResult:
    """Every failed expectation becomes one readable line; none declared always passes."""
    if expectation is None:
        return ExpectResult(passed=True, declared=False)
    claim = expectation.claim
    untested: ClaimVerdict | None = "untested" if claim else None
    if result.outcome == "skipped":
        why = f"skipped: {result.error}" if result.error else "skipped"
        return ExpectResult(passed=True, declared=True, evidence=[why] if claim else [], claim=claim,
                            verdict=untested)
    if result.errored:
        failure = f"the case did not run to the end: {result.outcome}: {result.error}"
        return ExpectResult(False, [failure], declared=True, claim=claim, verdict=untested)
    checks = _Checks(expectation, result.path)
    _hooks(checks, expectation, result)
    if expectation.order:
        checks.at("order").add(*_order(expectation.order, result))
    checks.at("outcome")
    if expectation.outcome is not None:
        if expectation.outcome != result.outcome:
            checks.failed(f"expected outcome {expectation.outcome}, got {result.outcome}")
        else:
            checks.held(f"the case's outcome was {result.outcome}")
    if expectation.exit is not None:
        checks.at("exit").add(*_exit(expectation.exit, result))
    if expectation.orphans is not None:
        checks.at("orphans").add(*_orphans(expectation.orphans, result))
    if expectation.within_grace is not None:
        ok, seen = within_grace(result)
        if ok == expectation.within_grace:
            checks.at("within_grace").held(seen)
        else:
            checks.at("within_grace").failed(f"expected within_grace = {str(expectation.within_grace).lower()} "
                                             f"(the root ends by itself in time, nothing killed): {seen}")
    if expectation.grace_kill is not None:
        checks.at("grace_kill").add(*_grace_kill(expectation.grace_kill, result))
    for key, ok, line in _traffic(expectation, result):
        checks.at(key).add(ok, line)
    for name in expectation.verified:
        checks.at("verified").add(*_verified(name, True, result))
    for name in expectation.not_verified:
        checks.at("not_verified").add(*_verified(name, False, result))
    verdict: ClaimVerdict | None = None
    if claim is not None:
        verdict = "refuted" if checks.failures else "confirmed"
    return ExpectResult(not checks.failures, checks.failures, declared=True, evidence=checks.evidence,
                        claim=claim, verdict=verdict, failed_keys=checks.keys)


def _hooks(checks: _Checks, expectation: Expectation, result: CaseResult) -> None:
    """``ran``, ``not_ran`` and ``ran_in``: which hooks ran, and in which processes."""
    checks.at("ran")
    for hook in expectation.ran:
        h = result.hooks.get(hook)
        if h is None or not h.ran:
            why = h.evidence if h else "not observed"
            checks.failed(f"expected hook '{hook}' to run, it did not ({why})")
        else:
            checks.held(f"hook '{hook}' ran{_in(_with_kinds(h, result))}: {h.evidence}")
    checks.at("not_ran")
    for hook in expectation.not_ran:
        h = result.hooks.get(hook)
        if h is not None and h.ran:
            checks.failed(f"expected hook '{hook}' not to run, it ran ({h.evidence})")
        elif h is not None and not h.observed:  # not seen is not "did not run"
            checks.failed(f"expected hook '{hook}' not to run; it could not be watched to the end ({h.evidence})")
        elif h is None and hook.startswith(PROBE_HOOK_PREFIX) and result.probe_notes:
            # its registration may be among the events the probe's file lost
            details = "; ".join(n.detail for n in result.probe_notes)
            checks.failed(f"expected hook '{hook}' not to run; it could not be watched to the end "
                          f"({INCOMPLETE}: {details})")
        else:
            checks.held(f"hook '{hook}' did not run: {h.evidence if h else 'no evidence of it'}")
    checks.at("ran_in")
    for hook, want in expectation.ran_in.items():
        found = result.hooks.get(hook)
        h = _with_kinds(found, result) if found is not None else None
        if h is None or not h.ran:
            checks.failed(f"expected hook '{hook}' to run in {'+'.join(want)}, it did not run")
        elif not h.roles:
            checks.failed(f"expected hook '{hook}' to run in {'+'.join(want)}; which process ran it "
                          "is unknown (give its log regex a (?P<pid>...) group)")
        elif set(h.roles) != set(want) and set(h.kinds) != set(want):
            # roles are the harness's (root, child...); kinds the probe's framework
            # roles (reloader-parent, worker...): either vocabulary may be used
            checks.failed(f"expected hook '{hook}' to run in {'+'.join(want)}, it ran in {_got(h)}")
        else:
            checks.held(f"hook '{hook}' ran in {_got(h)} and in no other process")


def _verified(name: str, want: bool, result: CaseResult) -> tuple[bool, str]:
    """``verified`` / ``not_verified``: check ``name`` passed (exit 0), or ran to its
    end and failed. A check that gave no answer (an error) holds for neither."""
    rec = next((r for r in result.verify if r.name == name), None)
    expected = f"expected check '{name}' to {'pass' if want else 'fail'}"
    if rec is None:
        return False, f"{expected}, but it did not run"
    said = _check_words(rec)
    if rec.error is not None:
        return False, f"{expected}; it gave no answer: {rec.error}{said}"
    if rec.passed != want:
        return False, f"{expected}, it {'failed' if want else 'passed'} (exit {rec.returncode}){said}"
    return True, f"check '{name}' {'passed' if want else 'failed'} (exit {rec.returncode}){said}"


def _check_words(rec: VerifyRecord) -> str:
    """": its last line: ..." (the check's own words), or ""."""
    last = rec.last_line()
    return f"; its last line: {last}" if last else ""


def _exit(want: int | str, result: CaseResult) -> tuple[bool, str]:
    """``exit``: the root's return code, or the signal that ended it."""
    got = result.exit.get("signal") or result.exit.get("returncode")
    if isinstance(want, str):
        ok = result.exit.get("signal") == want
    else:
        ok = result.exit.get("signal") is None and result.exit.get("returncode") == want
    if not ok:
        return False, f"expected the root to end with {want}, it ended with {got}"
    if isinstance(want, str):
        return True, f"the root was ended by {want}"
    return True, f"the root exited with status {want}"


def _orphans(want: bool, result: CaseResult) -> tuple[bool, str]:
    """``orphans``: whether a process was left running after the root ended."""
    left = ", ".join(f"{o.role} pid {o.pid}" + (f" (listening {', '.join(f':{p}' for p in o.listening)})"
                                                if o.listening else "") for o in result.orphans)
    if result.strays and want != bool(result.orphans):
        # a process that may be this case's or another's: the check cannot be decided
        strays = ", ".join(f"pid {s.pid} ({s.why})" for s in result.strays)
        return False, (f"cannot tell whether a process was left running: re-parented to the harness, "
                       f"{strays} may be this case's")
    if want != bool(result.orphans):
        if want:
            return False, "expected an orphan to be left running, there was none"
        return False, f"expected no orphans, found: {left}"
    if result.orphans:
        return True, f"left running after the root ended: {left}"
    return True, "no process was left running"


class _Checks:
    """The lines of the checks so far, each failure with the key that stated it
    (:meth:`at` names the key the next lines are about)."""

    def __init__(self, expectation: Expectation, path: str) -> None:
        self.failures: list[str] = []
        self.evidence: list[str] = []
        self.keys: list[FailedKey] = []
        self._expectation = expectation
        self._path = path
        self._key = ""

    def at(self, key: str) -> _Checks:
        self._key = key
        return self

    def held(self, line: str) -> None:
        self.evidence.append(line)

    def failed(self, line: str) -> None:
        self.failures.append(line)
        self.keys.append(FailedKey(self._expectation.table_of(self._key, self._path), self._key))

    def add(self, ok: bool, line: str) -> None:
        if ok:
            self.held(line)
        else:
            self.failed(line)


def _with_kinds(h: HookResult, result: CaseResult) -> HookResult:
    """``h`` with the framework role of each pid that ran it (reloader-child, worker...)
    filled in from the probe's process list, for a declared hook whose evidence only
    named pids: ``ran_in`` may use either vocabulary for any hook."""
    if any(h.kinds) or not h.pids:
        return h
    # the probe's process list is kept as the probe wrote it (see results.ProbeInfo)
    processes = result.probe.get("processes")
    kinds = {p.get("pid"): p.get("kind") or "" for p in processes
             if isinstance(p, dict)} if isinstance(processes, list) else {}
    if not any(kinds.get(pid) for pid in h.pids):
        return h
    return dataclasses.replace(h, kinds=[kinds.get(pid, "") for pid in h.pids])


def _in(h: HookResult) -> str:
    return f" in {_got(h)}" if h.roles else ""


def _got(h: HookResult) -> str:
    """Where a hook ran: ``root+child (reloader-parent+reloader-child)``."""
    got = "+".join(dict.fromkeys(h.roles))
    if any(h.kinds):
        got += f" ({'+'.join(dict.fromkeys(k for k in h.kinds if k))})"
    return got


def _order(want: tuple[str, ...], result: CaseResult) -> tuple[bool, str]:
    """``order``: the hooks' first runs started in this order."""
    # the loader makes every hook in ``want`` one kind: the probe's, or declared ones
    probe = any(result.hooks[h].source == "probe" for h in want if h in result.hooks)
    if not probe:
        return _declared_order(want, result)
    seen = result.probe_order
    missing = [h for h in want if h not in seen]
    if missing:
        return False, f"expected {' → '.join(want)} in this order, but {', '.join(missing)} did not run"
    got = [h for h in seen if h in want]
    if got != list(want):
        return False, f"expected {' → '.join(want)} in this order, they started {' → '.join(got)}"
    return True, f"the hooks started in the order {' → '.join(got)}"


def _declared_order(want: tuple[str, ...], result: CaseResult) -> tuple[bool, str]:
    """``order`` of declared hooks: holds only when one clock saw each pair in turn."""
    expected = f"expected {' → '.join(want)} in this order"
    order = result.order
    if order is None:
        return False, f"{expected}, but the order was not recorded"
    missing = [h for h in want if h not in order.hooks]
    if missing:
        return False, f"{expected}, but {', '.join(missing)} did not run"
    clocks = []
    for a, b in zip(want, want[1:]):
        seen = order.relation(a, b)
        if isinstance(seen, UnknownOrder):
            return False, f"{expected}; which of {a} and {b} came first is unknown ({seen.why})"
        assert isinstance(seen, OrderPair)
        if seen.first != a:
            return False, f"{expected}, {b} came before {a} ({seen.clock})"
        clocks.append(seen.clock)
    return True, f"the hooks' evidence appeared in the order {' → '.join(want)} ({', '.join(dict.fromkeys(clocks))})"


def _traffic(expectation: Expectation, result: CaseResult) -> list[tuple[str, bool, str]]:
    """``drained`` / ``dropped``: what happened to the requests (the key, held, the line)."""
    if expectation.drained is None and expectation.dropped is None:
        return []
    t = result.traffic
    if t is None:
        key = "drained" if expectation.drained is not None else "dropped"
        return [(key, False, "expected traffic verdicts, but the case sent no requests")]
    out = []
    if expectation.drained is not None:
        counts = ", ".join(f"{n} {k}" for k, n in t.counts("in-flight").items()) or "none in flight"
        if t.drained != expectation.drained:
            want = "every request in flight to complete" if expectation.drained else "some request in flight to fail"
            out.append(("drained", False, f"expected {want}; in flight: {counts}"))
        else:
            out.append(("drained", True, f"requests in flight: {counts}"))
    if expectation.dropped is not None:
        counts = ", ".join(f"{n} {k}" for k, n in t.counts("new").items()) or "none sent"
        if (t.dropped > 0) != expectation.dropped:
            want = "some new request to be accepted and then cut" if expectation.dropped else "no new request to be cut"
            out.append(("dropped", False, f"expected {want}; new requests: {counts}"))
        else:
            out.append(("dropped", True, f"new requests: {counts}"))
    return out


def _grace_kill(want: bool, result: CaseResult) -> tuple[bool, str]:
    """``grace_kill``: whether the stopper's final SIGKILL was needed."""
    stop = result.stop
    if stop is None:
        return False, (f"expected grace_kill = {str(want).lower()}, but the case recorded no stop sequence "
                       f"(path '{result.path}' ran no stop profile)")
    grace = f"{stop.grace_s:g} s" if stop.grace_s is not None else "no"
    took = (f"cleanup took {stop.cleanup_s:.2f} s of {grace}" if stop.cleanup_s is not None
            else f"grace {grace}; cleanup time unknown")
    at = f" at {stop.kill_at_s:.1f} s" if stop.kill_at_s is not None else ""
    to = ", ".join(f"{k.get('role', 'process')} pid {k.get('pid')}" for k in stop.killed)
    if stop.final_kill == want:
        if want:
            return True, f"the {grace} grace ran out and SIGKILL was sent{at}" + (f" to {to}" if to else "")
        return True, f"no SIGKILL was needed ({took})"
    if want:
        return False, f"expected the grace period to run out and SIGKILL to be sent, it was not ({took})"
    return False, (f"expected cleanup to finish within the {grace} grace, SIGKILL was sent{at}"
                   + (f" to {to}" if to else ""))
