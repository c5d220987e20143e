"""Expectations: compare what a case observed with what the scenario declared."""

from __future__ import annotations

from .results import CaseResult, ExpectResult
from .scenario import Expectation


def evaluate(expectation: Expectation | None, result: CaseResult) -> ExpectResult:
    """Every failed expectation becomes one readable line; none declared always passes."""
    if expectation is None:
        return ExpectResult(passed=True, declared=False)
    if result.outcome == "skipped":
        return ExpectResult(passed=True, declared=True, failures=[])
    failures: list[str] = []
    if result.errored:
        failures.append(f"the case did not run to the end: {result.outcome}: {result.error}")
        return ExpectResult(False, failures, declared=True)
    for hook in expectation.ran:
        h = result.hooks.get(hook)
        if h is None or not h.ran:
            why = h.evidence if h else "not observed"
            failures.append(f"expected hook '{hook}' to run, it did not ({why})")
    for hook in expectation.not_ran:
        h = result.hooks.get(hook)
        if h is not None and h.ran:
            failures.append(f"expected hook '{hook}' not to run, it ran ({h.evidence})")
    for hook, want in expectation.ran_in.items():
        h = result.hooks.get(hook)
        if h is None or not h.ran:
            failures.append(f"expected hook '{hook}' to run in {'+'.join(want)}, it did not run")
        elif not h.roles:
            failures.append(f"expected hook '{hook}' to run in {'+'.join(want)}; which process ran it "
                            "is unknown (give its log regex a (?P<pid>...) group)")
        elif set(h.roles) != set(want) and set(h.kinds) != set(want):
            # roles are the harness's (root, child...); kinds the probe's framework
            # roles (reloader-parent, worker...): either vocabulary may be used
            got = "+".join(dict.fromkeys(h.roles))
            if any(h.kinds):
                got += f" ({'+'.join(dict.fromkeys(k for k in h.kinds if k))})"
            failures.append(f"expected hook '{hook}' to run in {'+'.join(want)}, it ran in {got}")
    if expectation.outcome is not None and expectation.outcome != result.outcome:
        failures.append(f"expected outcome {expectation.outcome}, got {result.outcome}")
    if expectation.exit is not None:
        got = result.exit.get("signal") or result.exit.get("returncode")
        want = expectation.exit
        if isinstance(want, str):
            ok = result.exit.get("signal") == want
        else:
            ok = result.exit.get("signal") is None and result.exit.get("returncode") == want
        if not ok:
            failures.append(f"expected the root to end with {want}, it ended with {got}")
    if expectation.orphans is not None and expectation.orphans != bool(result.orphans):
        if expectation.orphans:
            failures.append("expected an orphan to be left running, there was none")
        else:
            left = ", ".join(f"{o.role} pid {o.pid}" for o in result.orphans)
            failures.append(f"expected no orphans, found: {left}")
    if expectation.grace_kill is not None:
        failures.extend(_grace_kill(expectation.grace_kill, result))
    if expectation.drained is not None or expectation.dropped is not None:
        failures.extend(_traffic(expectation, result))
    return ExpectResult(not failures, failures, declared=True)


def _traffic(expectation: Expectation, result: CaseResult) -> list[str]:
    """``drained`` / ``dropped``: what happened to the requests."""
    t = result.traffic
    if t is None:
        return ["expected traffic verdicts, but the case sent no requests"]
    out = []
    if expectation.drained is not None and t.drained != expectation.drained:
        counts = ", ".join(f"{n} {k}" for k, n in t.counts("in-flight").items()) or "none in flight"
        want = "every request in flight to complete" if expectation.drained else "some request in flight to fail"
        out.append(f"expected {want}; in flight: {counts}")
    if expectation.dropped is not None and (t.dropped > 0) != expectation.dropped:
        counts = ", ".join(f"{n} {k}" for k, n in t.counts("new").items()) or "none sent"
        want = "some new request to be accepted and then cut" if expectation.dropped else "no new request to be cut"
        out.append(f"expected {want}; new requests: {counts}")
    return out


def _grace_kill(want: bool, result: CaseResult) -> list[str]:
    """``grace_kill``: whether the stopper's final SIGKILL was needed."""
    stop = result.stop
    if stop is None:
        return [f"expected grace_kill = {str(want).lower()}, but the case recorded no stop sequence "
                f"(path '{result.path}' ran no stop profile)"]
    if stop.final_kill == want:
        return []
    grace = f"{stop.grace_s:g} s" if stop.grace_s is not None else "no"
    if want:
        took = (f"cleanup took {stop.cleanup_s:.2f} s of {grace}" if stop.cleanup_s is not None
                else f"grace {grace}; cleanup time unknown")
        return [f"expected the grace period to run out and SIGKILL to be sent, it was not ({took})"]
    at = f" at {stop.kill_at_s:.1f} s" if stop.kill_at_s is not None else ""
    to = ", ".join(f"{k.get('role', 'process')} pid {k.get('pid')}" for k in stop.killed)
    return [f"expected cleanup to finish within the {grace} grace, SIGKILL was sent{at}"
            + (f" to {to}" if to else "")]
