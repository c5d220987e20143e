"""The order hooks ran in, as far as one clock saw it: one phrase per case, and the
lines under a matrix that group the cases by it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ..results import CaseResult, HookOrder
from .text import names as _names


def order_text(order: HookOrder | None) -> str:
    """What is known of the declared hooks' order, in one phrase ("" when fewer than
    two ran, or for results that did not record it): the chains one clock saw, then
    the pairs no clock saw, with why."""
    if order is None or len(order.hooks) < 2:
        return ""
    if not order.unknown:
        return " → ".join(order.hooks)
    parts = [_chain(group, order) for group in _ordered_groups(order)]
    by_why: dict[str, list[list[str]]] = {}
    for u in order.unknown:
        by_why.setdefault(u.why, []).append(u.hooks)
    parts += [f"unknown: {_pairs(pairs, order.hooks)} ({why})" for why, pairs in by_why.items()]
    return "; ".join(parts)


def _ordered_groups(order: HookOrder) -> list[list[str]]:
    """The hooks linked by known pairs, group by group, each in listing order."""
    group_of = {h: {h} for h in order.hooks}
    for p in order.known:
        merged = group_of[p.first] | group_of[p.then]
        for h in merged:
            group_of[h] = merged
    groups: list[list[str]] = []
    for h in order.hooks:
        members = [m for m in order.hooks if m in group_of[h]]
        if len(members) > 1 and members not in groups:
            groups.append(members)
    return groups


def _chain(group: list[str], order: HookOrder) -> str:
    """``a → {b, c} → d (stdout)``: hooks in braces have no known order between them.
    A group that is not layered that way is given pair by pair."""
    pairs = [p for p in order.known if p.first in group]
    before = {h: sum(1 for p in pairs if p.then == h) for h in group}
    layers: dict[int, list[str]] = {}
    for h in group:
        layers.setdefault(before[h], []).append(h)
    levels = sorted(layers)
    known = {(p.first, p.then) for p in pairs}
    layered = all((a, b) in known for i, lo in enumerate(levels) for hi in levels[i + 1:]
                  for a in layers[lo] for b in layers[hi])
    layered = layered and all((a, b) not in known for hs in layers.values() for a in hs for b in hs)
    clocks = ", ".join(dict.fromkeys(p.clock for p in pairs))
    if layered:
        text = " → ".join(layers[n][0] if len(layers[n]) == 1 else "{" + ", ".join(layers[n]) + "}" for n in levels)
    else:
        text = ", ".join(f"{p.first} → {p.then}" for p in pairs)
    return f"{text} ({clocks})"


def _pairs(pairs: list[list[str]], listing: list[str]) -> str:
    """``finally vs flushed and atexit``: the pairs, gathered on the hook most of them share."""
    count = Counter(h for pair in pairs for h in pair)
    rank = {h: (-count[h], listing.index(h) if h in listing else 0) for h in count}
    hubs: dict[str, list[str]] = {}
    for a, b in pairs:
        hub, other = (a, b) if rank[a] <= rank[b] else (b, a)
        hubs.setdefault(hub, []).append(other)
    return "; ".join(f"{hub} vs {_names(others)}" for hub, others in hubs.items())


def order_lines(cases: list[CaseResult]) -> list[str]:
    """The order hooks' evidence appeared in, as far as it is known, once per distinct
    text, with its paths; then the probe's atexit order (one clock: CLOCK_MONOTONIC)."""
    lines = []
    runs = Counter(case.path for case in cases)
    texts: tuple[tuple[str, Callable[[CaseResult], str]], ...] = (
        ("order", lambda c: order_text(c.order)),
        ("atexit order", lambda c: " → ".join(c.probe_order) if len(c.probe_order) > 1 else ""))
    for label, text_of in texts:
        groups: dict[str, list[CaseResult]] = {}
        for case in cases:
            text = text_of(case)
            if text:
                groups.setdefault(text, []).append(case)
        lines += [f"{label} in {_case_labels(group, runs)}: {text}" for text, group in groups.items()]
    return lines


def _case_labels(group: list[CaseResult], runs: Counter[str]) -> str:
    """The cases' labels; a repeated path whose every run is in ``group`` is named once."""
    in_group = Counter(case.path for case in group)
    out: list[str] = []
    named: set[str] = set()
    for case in group:
        n = in_group[case.path]
        if case.attempt is None or n < runs[case.path]:
            out.append(case.label)
        elif case.path not in named:
            named.add(case.path)
            out.append(f"{case.path} (all {n} runs)")
    return ", ".join(out)
