"""The [expect] table: per path, what must hold (hooks that ran or not, where and in
which order, the outcome, the exit, orphans, the grace kill, the traffic verdicts) and
the claim those checks stand for.

``[expect.all]`` holds on every path unless the path's own table says otherwise, key by
key: a key the path's table gives replaces all's (``outcome``, ``exit``, ``orphans``,
``within_grace``, and each list as a whole); a hook the path names anywhere (``ran``,
``not_ran``, ``ran_in``, ``order``) leaves all's lists, and so does a check it names
(``verified``, ``not_verified``), so the two tables never contradict each other.
Only :data:`EXPECT_ALL_KEYS` may be given in ``all``; ``claim`` is a path's alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..paths import BUILTIN_PATHS, PROFILE_PATHS, Path
from .checks import Checker, did_you_mean, is_signal_name, number, seg, signal_hint, value_kind
from .specs import (EXPECT_ALL, EXPECT_ALL_KEYS, EXPECT_KEYS, OUTCOMES, PROBE_HOOK_PREFIX, Expectation, HookSpec,
                    TrafficSpec, TriggerSpec)

# checks that a hook named under `key` is one the expectation may name
_HookCheck = Callable[[str, str], None]


def parse_expect(
    c: Checker, expect: dict[str, Any], paths: tuple[Path, ...], hooks: dict[str, HookSpec],
    triggers: dict[str, TriggerSpec], *, probe: bool = True, traffic: TrafficSpec | None = None,
    checks: tuple[str, ...] = (),
) -> dict[str, Expectation]:
    """[expect]: one [expect.PATH] per path of the scenario, and [expect.all] merged
    into each (every path then has one)."""
    names = [p.name for p in paths]
    base = None
    if EXPECT_ALL in expect:
        base = _parse_all(c, expect[EXPECT_ALL], names, hooks, probe=probe, checks=checks)
    out: dict[str, Expectation] = {}
    for path_name, raw in expect.items():
        if path_name == EXPECT_ALL:
            continue
        where = f"expect.{seg(path_name)}"
        if path_name not in names:
            if path_name in BUILTIN_PATHS or path_name in triggers:
                hint = f"; add it to paths, or remove [{where}]"
            else:
                hint = did_you_mean(path_name, names)
            raise c.fail(where, f"path '{path_name}' is not one of this scenario's paths{hint} "
                                f"(paths: {', '.join(names)})", value=path_name, allowed=names)
        out[path_name] = parse_expectation(c, raw, where, path_name, hooks, probe=probe, traffic=traffic,
                                           checks=checks, base=base)
    if base is None:
        return out
    return {name: out.get(name) or _merged(base, Expectation(), set()) for name in names}


def _parse_all(c: Checker, raw: Any, names: list[str], hooks: dict[str, HookSpec], *, probe: bool,
               checks: tuple[str, ...]) -> Expectation:
    """[expect.all]: the keys that make sense on every path."""
    where = f"expect.{EXPECT_ALL}"
    if EXPECT_ALL in names:
        raise c.fail(where, f"[{where}] states what holds on every path, and this scenario also has a path "
                            f"named '{EXPECT_ALL}': rename that trigger", value=EXPECT_ALL)
    table = c.table(raw, where)
    for key in table:
        if key in EXPECT_KEYS and key not in EXPECT_ALL_KEYS:
            why = "is a path's own sentence" if key == "claim" else "differs by path"
            raise c.fail(f"{where}.{seg(key)}", f"{key} {why}: give it in [expect.PATH] (keys [{where}] "
                                                f"takes: {', '.join(EXPECT_ALL_KEYS)})",
                         value=key, allowed=EXPECT_ALL_KEYS)
    c.keys(table, EXPECT_ALL_KEYS, where)
    return parse_expectation(c, table, where, EXPECT_ALL, hooks, probe=probe, checks=checks)


def _merged(base: Expectation, own: Expectation, given: set[str]) -> Expectation:
    """``own`` (a path's table, whose keys are ``given``) over ``base`` ([expect.all])."""
    hooks = {*own.ran, *own.not_ran, *own.ran_in, *own.order}
    checks = {*own.verified, *own.not_verified}
    taken: dict[str, Any] = {}
    for key in EXPECT_ALL_KEYS:
        value = getattr(base, key)
        if key in given or value is None or value == ():
            continue
        if key in ("ran", "not_ran", "verified", "not_verified"):
            value = tuple(n for n in value if n not in (hooks if key in ("ran", "not_ran") else checks))
            if not value:
                continue
        taken[key] = value
    return dataclasses.replace(own, **taken, from_all=tuple(taken))


def parse_expectation(
    c: Checker, raw: Any, where: str, path_name: str, hooks: dict[str, HookSpec], *, probe: bool = True,
    traffic: TrafficSpec | None = None, checks: tuple[str, ...] = (), base: Expectation | None = None,
) -> Expectation:
    """One expectation table (``[expect.PATH]``, or any table with its keys) for path
    ``path_name``; ``where`` prefixes the keys in error messages; ``checks`` the
    names of the scenario's [verify] checks; ``base`` [expect.all], merged in."""

    def hook_name(hook: str, key: str) -> None:
        if hook.startswith(PROBE_HOOK_PREFIX) and len(hook) > len(PROBE_HOOK_PREFIX):
            if not probe:
                raise c.fail(key, f"'{hook}' is a hook the Python probe finds, which app.probe = false turns off",
                             value=hook)
            return
        c.name_in(hook, hooks, key, "hook")

    table = c.table(raw, where)
    c.keys(table, EXPECT_KEYS, where)
    ran = c.string_list(table.get("ran", []), f"{where}.ran")
    not_ran = c.string_list(table.get("not_ran", []), f"{where}.not_ran")
    for hook in ran:
        hook_name(hook, f"{where}.ran")
    for hook in not_ran:
        hook_name(hook, f"{where}.not_ran")
    both = sorted(set(ran) & set(not_ran))
    if both:
        raise c.fail(where, f"hook '{both[0]}' is in both ran and not_ran", value=both[0])
    outcome = c.one_of(table["outcome"], OUTCOMES, f"{where}.outcome") if "outcome" in table else None
    exit_ = _exit(c, table["exit"], f"{where}.exit") if "exit" in table else None
    orphans = c.boolean(table["orphans"], f"{where}.orphans") if "orphans" in table else None
    grace_kill = None
    if "grace_kill" in table:
        grace_kill = _grace_kill(c, table["grace_kill"], f"{where}.grace_kill", path_name)
    ran_in = _ran_in(c, table.get("ran_in", {}), f"{where}.ran_in", not_ran, hook_name)
    verdicts = _verdicts(c, table, where, path_name, traffic)
    order = _order(c, table.get("order", []), f"{where}.order", not_ran, hooks, hook_name)
    verified, not_verified = _verified(c, table, where, checks)
    claim = None
    if "claim" in table:
        claim = " ".join(c.string(table["claim"], f"{where}.claim").split())
        if not claim:
            raise c.fail(f"{where}.claim", "is empty: expected a sentence saying what the checks show",
                         value=table["claim"])
    within = c.boolean(table["within_grace"], f"{where}.within_grace") if "within_grace" in table else None
    expectation = Expectation(tuple(ran), tuple(not_ran), outcome, exit_, orphans, ran_in, grace_kill,
                              verdicts["drained"], verdicts["dropped"], claim, tuple(order), verified, not_verified,
                              within)
    if base is not None:
        expectation = _merged(base, expectation, set(table))
    if claim is not None and not expectation.checks:
        raise c.fail(f"{where}.claim", "a claim needs something to check it against: add ran, not_ran, "
                                       "ran_in, order, outcome, exit, orphans, within_grace, grace_kill, drained, "
                                       "dropped, verified or not_verified")
    return expectation


def _verified(c: Checker, table: dict[str, Any], where: str,
              checks: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``verified`` and ``not_verified``: [verify] checks that must pass, and fail."""
    lists = {}
    for key in ("verified", "not_verified"):
        names = c.string_list(table.get(key, []), f"{where}.{key}")
        for name in names:
            c.name_in(name, checks, f"{where}.{key}", "check ([verify.NAME])")
        lists[key] = tuple(dict.fromkeys(names))
    both = sorted(set(lists["verified"]) & set(lists["not_verified"]))
    if both:
        raise c.fail(where, f"check '{both[0]}' is in both verified and not_verified", value=both[0])
    return lists["verified"], lists["not_verified"]


def _exit(c: Checker, value: Any, key: str) -> int | str:
    """``exit``: a return code, or the name of the signal that ended the root."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise c.fail(key, f"expected a return code or a signal name, got {value_kind(value)}", value=value)
    if isinstance(value, str) and not is_signal_name(value):
        raise c.fail(key, f"unknown signal name {value!r}{signal_hint(value)} "
                          "(expected a return code, or a signal name such as 'SIGKILL')", value=value)
    if isinstance(value, int) and not 0 <= value <= 255:
        raise c.fail(key, f"expected a return code from 0 to 255, got {number(value)} "
                          "(for a death by signal write its name, e.g. 'SIGKILL')", value=value)
    return value


def _grace_kill(c: Checker, value: Any, key: str, path_name: str) -> bool:
    """``grace_kill``: only for a stop profile path that kills when its grace runs out."""
    profile = BUILTIN_PATHS[path_name].profile if path_name in BUILTIN_PATHS else None
    if profile is None:
        killing = [n for n in PROFILE_PATHS if _kills(n)]
        raise c.fail(key, f"path '{path_name}' is not a stop profile, so it has no grace period to run "
                          f"out (grace_kill is for: {', '.join(killing)})", value=path_name, allowed=killing)
    if profile.kill == "none":
        raise c.fail(key, f"{path_name} never kills, so there is no grace period to run out and no "
                          "final SIGKILL (expect exit or outcome instead)", value=path_name)
    return c.boolean(value, key)


def _kills(name: str) -> bool:
    profile = BUILTIN_PATHS[name].profile
    return profile is not None and profile.kill != "none"


def _ran_in(c: Checker, raw: Any, key: str, not_ran: list[str],
            hook_name: _HookCheck) -> dict[str, tuple[str, ...]]:
    """``ran_in``: hook -> the roles of exactly the processes that must run it."""
    ran_in: dict[str, tuple[str, ...]] = {}
    for hook, raw_roles in c.table(raw, key).items():
        where = f"{key}.{seg(hook)}"
        hook_name(hook, where)
        if hook in not_ran:
            raise c.fail(where, f"hook '{hook}' is also in not_ran", value=hook)
        roles = [raw_roles] if isinstance(raw_roles, str) else c.string_list(raw_roles, where)
        if not roles:
            raise c.fail(where, "is empty: list the roles that run it, e.g. [\"root\"]", value=raw_roles)
        ran_in[hook] = tuple(roles)
    return ran_in


def _verdicts(c: Checker, table: dict[str, Any], where: str, path_name: str,
              traffic: TrafficSpec | None) -> dict[str, bool | None]:
    """``drained`` and ``dropped``: only where [traffic] sends requests on this path."""
    verdicts: dict[str, bool | None] = {"drained": None, "dropped": None}
    for key in verdicts:
        if key not in table:
            continue
        if traffic is None:
            raise c.fail(f"{where}.{key}", f"{key} is about requests, and the scenario has no [traffic] table")
        if not traffic.covers(path_name):
            raise c.fail(f"{where}.{key}", f"path '{path_name}' is not in traffic.paths, so it sends no requests",
                         value=path_name, allowed=traffic.paths)
        if key == "drained" and traffic.in_flight + traffic.queued == 0:
            raise c.fail(f"{where}.{key}", "traffic.in_flight is 0: no request is in flight to drain")
        verdicts[key] = c.boolean(table[key], f"{where}.{key}")
    return verdicts


def _order(c: Checker, raw: Any, key: str, not_ran: list[str], hooks: dict[str, HookSpec],
           hook_name: _HookCheck) -> list[str]:
    """``order``: two or more hooks of one kind, in the order their first runs start."""
    order = c.string_list(raw, key)
    for hook in order:
        hook_name(hook, key)
    if order:
        kinds = {hook.startswith(PROBE_HOOK_PREFIX) and hook not in hooks for hook in order}
        if len(order) < 2 or len(set(order)) != len(order):
            raise c.fail(key, "expected two or more different hooks, in the order they must start", value=order)
        if len(kinds) > 1:
            raise c.fail(key, "expected hooks of one kind: the probe's atexit:* hooks (ordered by "
                              "when they started) or declared hooks (by when their evidence appeared)", value=order)
        bad = [hook for hook in order if hook in not_ran]
        if bad:
            raise c.fail(key, f"hook '{bad[0]}' is also in not_ran", value=bad[0])
    return order
