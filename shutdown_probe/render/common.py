"""Cell texts shared by the terminal and Markdown matrices, so both say the same thing."""

from __future__ import annotations

from ..results import CaseResult, HookResult, Results

RAN = "✓"
NOT_RAN = "✗"


def by_scenario(results: Results) -> dict[str, list[CaseResult]]:
    groups: dict[str, list[CaseResult]] = {}
    for case in results.cases:
        groups.setdefault(case.scenario, []).append(case)
    return groups


def hook_names(cases: list[CaseResult]) -> list[str]:
    names: list[str] = []
    for case in cases:
        for name in case.hooks:
            if name not in names:
                names.append(name)
    return names


# Short names for roles in narrow cells; the legend under a table spells them out.
ROLE_CODES = {"root": "R", "child": "C", "grandchild": "G", "descendant": "D", "unknown": "?"}


def role_code(role: str) -> str:
    if role.startswith("child-"):
        return "C" + role.split("-", 1)[1]
    return ROLE_CODES.get(role, role)


def hook_cell(case: CaseResult, name: str, *, short: bool = False) -> str:
    """✓ or ✗, and on ✓ which processes ran the hook (when known)."""
    if case.outcome in ("skipped", "not-ready", "error"):
        return "-"
    hook: HookResult | None = case.hooks.get(name)
    if hook is None:
        return "?"
    if not hook.ran:
        return NOT_RAN
    roles = [role_code(r) if short else r for r in dict.fromkeys(hook.roles)]
    return f"{RAN} {'+'.join(roles)}" if roles else RAN


def roles_legend(cases: list[CaseResult]) -> str | None:
    """'R = root, C = child' for the role codes the cells of these cases use."""
    used = {r for c in cases for h in c.hooks.values() if h.ran for r in h.roles}
    if not used:
        return None
    order = ["root", "child", "grandchild", "descendant", "unknown"]
    ranked = sorted(used, key=lambda r: (order.index(r) if r in order else 2, r))
    return "ran in: " + ", ".join(f"{role_code(r)} = {r}" for r in ranked)


def order_lines(cases: list[CaseResult]) -> list[str]:
    """The order hooks' evidence appeared in, once per distinct order, with its paths."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for case in cases:
        if len(case.hook_order) > 1:
            groups.setdefault(tuple(case.hook_order), []).append(case.path)
    return [f"order in {', '.join(paths)}: {' → '.join(order)}" for order, paths in groups.items()]


def exit_cell(case: CaseResult) -> str:
    if case.outcome == "skipped":
        return "skipped"
    if case.outcome in ("not-ready", "error"):
        return case.outcome
    ex = case.exit
    end = ex.get("signal") or (f"rc {ex.get('returncode')}" if ex.get("returncode") is not None else "?")
    return f"hung → {end}" if case.outcome == "hung" else end


def time_cell(case: CaseResult) -> str:
    """Trigger to the end: of every process, or of the root when orphans outlived it."""
    if case.duration_s is not None:
        return f"{case.duration_s:.2f} s"
    if case.outcome == "hung":
        return "killed"
    if case.root_exit_s is not None:
        return f"{case.root_exit_s:.2f} s"
    return "-"


def orphans_cell(case: CaseResult, *, short: bool = False) -> str:
    if not case.orphans:
        return "-"
    parts = []
    for o in case.orphans:
        ports = ",".join(f":{p}" for p in o.listening)
        text = f"{role_code(o.role) if short else o.role} {o.pid}" + (f" {ports}" if ports else "")
        parts.append(text + (" (killed)" if o.killed_by_harness else ""))
    return "; ".join(parts)


def failure_lines(cases: list[CaseResult]) -> list[str]:
    lines = []
    for case in cases:
        if case.outcome in ("not-ready", "error") and not case.expect.failures:
            lines.append(f"{case.path}: {case.outcome}: {case.error}")
        for failure in case.expect.failures:
            lines.append(f"{case.path}: {failure}")
    return lines


def summary_line(cases: list[CaseResult]) -> str:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    outcomes = ", ".join(f"{n} {o}" for o, n in counts.items())
    declared = [c for c in cases if c.expect.declared and c.outcome != "skipped"]
    held = sum(1 for c in declared if c.expect.passed)
    text = f"{len(cases)} {'case' if len(cases) == 1 else 'cases'}: {outcomes}"
    if declared:
        text += f"; expectations held in {held} of {len(declared)}"
    return text
