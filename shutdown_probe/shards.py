"""Sharding a run over machines: ``run --shard K/N`` runs one of N parts of the cases,
and ``report`` puts the parts back together.

The rule that picks a shard's cases, in one place:

* the unit is a case without its repeat number, ``SCENARIO::PATH``: with ``--repeat``
  every run of one path lands in the same shard, so the runs a race shows up in are
  compared on one machine under one load;
* those ids are sorted (by id, then by where they stand in the run, for two scenario
  files with one name) and dealt out in turn: the i-th goes to shard ``i mod N + 1``.
  The shards' sizes differ by at most one, every case is in exactly one shard, and the
  choice depends only on the scenario files and the options, not on the machine, the
  order the files were given in, or the time.

Each shard records what it is in the results' environment (``shard``: K, N, its case
ids and their places in the unsharded run, and a digest of the whole run's ids). The
merge (:func:`merge`) checks that the files given are whole runs or complete sets of
shards: a shard missing, a shard given twice, shards of different runs, or a case in
two files is a :class:`ShardError` naming the files, never a silent merge. Shards of
one run and environment merge into one run, whose cases stand in the unsharded order,
so every table is the one an unsharded run gives.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UsageError
from .results import ShardInfo

if TYPE_CHECKING:  # pragma: no cover
    from .results import CaseResult, Results
    from .runner import CaseList

# More shards than this is a typo, not a cluster.
MAX_SHARDS = 10_000


class ShardError(UsageError):
    """A bad --shard value, or results files whose shards do not make whole runs; the
    message is one line."""


@dataclass(frozen=True)
class Shard:
    index: int  # K, 1..total
    total: int  # N

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def parse_shard(text: str) -> Shard:
    """``K/N`` with 1 <= K <= N <= :data:`MAX_SHARDS`; anything else is a :class:`ShardError`."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    k, slash, n = text.partition("/")
    if slash and k.isascii() and n.isascii() and k.isdigit() and n.isdigit() and len(k) + len(n) <= 12:
        index, total = int(k), int(n)
        if 1 <= total <= MAX_SHARDS and 1 <= index <= total:
            return Shard(index, total)
    raise ShardError(f"expected K/N, shard K of N (1 <= K <= N <= {MAX_SHARDS}, e.g. 2/3), got {shown!r}")


def case_key(scenario: str, path: str) -> str:
    """The id a shard is chosen by: a case without its repeat number."""
    return f"{scenario}::{path}"


def digest(keys: Sequence[str]) -> str:
    """What tells one run's cases from another's: shards of one run share it, whatever
    order each was given the scenario files in (the dealing does not depend on it)."""
    return hashlib.sha256("\n".join(sorted(keys)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def deal(keys: Sequence[str], shard: Shard) -> list[int]:
    """The places in ``keys`` (a run's case ids, in run order) that ``shard`` gets, in
    run order: the ids sorted (then by place, for equal ids) and dealt out in turn."""
    ranked = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    return sorted(i for rank, i in enumerate(ranked) if rank % shard.total == shard.index - 1)


def record(keys: Sequence[str], shard: Shard, repeat: int = 1) -> ShardInfo:
    """What the results of ``shard`` of the run of ``keys`` (each run ``repeat``
    times) record of it."""
    mine = deal(keys, shard)
    return ShardInfo(index=shard.index, total=shard.total, run=digest(keys), of=len(keys), repeat=repeat,
                     cases=[keys[i] for i in mine], positions=mine)


def select(cases: CaseList, shard: Shard) -> tuple[CaseList, ShardInfo]:
    """The cases of ``shard`` (in run order, every repeat of each), and what the
    results record of it."""
    from .runner import CaseList as Cases

    distinct = cases.distinct()
    repeat = len(cases) // len(distinct) if distinct else 1
    info = record([case_key(c.scenario.name, c.path.name) for c in distinct], shard, repeat)
    return Cases([(distinct[i].scenario, distinct[i].path) for i in info["positions"]], repeat), info


@dataclass
class _Part:
    file: str
    results: Results
    shard: ShardInfo | None


def merge(parts: Sequence[tuple[str, Results]]) -> list[Results]:
    """``parts`` (file name, its results) with each complete set of shards merged into
    one results (in the first shard's place, its cases in the unsharded order, without
    the ``shard`` record); whole runs are kept as they are. Raises :class:`ShardError`
    when the shards given do not make whole runs."""
    from .render.compat import Environment

    groups: dict[object, list[_Part]] = {}
    out: list[Results | list[_Part]] = []
    for file, results in parts:
        shard = results.environment.get("shard")
        if shard is None:
            out.append(results)
            continue
        key = (Environment.of(results), _other_facts(results), shard["run"], shard["total"])
        if key not in groups:
            groups[key] = []
            out.append(groups[key])
        groups[key].append(_Part(file, results, shard))
    return [item if not isinstance(item, list) else _merged(item) for item in out]


# Facts of the environment block that differ from job to job of one run (the machine,
# how it ran) or that the compatibility tables already compare (Environment.of): any
# other fact (one a later version records, such as the spec an environment was built
# from) keeps shards that differ in it apart.
_PER_JOB = frozenset({"python", "implementation", "platform", "kernel", "packages", "capabilities", "jobs",
                      "runner", "workers", "interrupted_by", "shard"})


def _other_facts(results: Results) -> str:
    import json

    other = {k: v for k, v in results.environment.items() if k not in _PER_JOB}
    return json.dumps(other, sort_keys=True, default=str)


def _merged(parts: list[_Part]) -> Results:
    """One run from its shards, checked: each shard once, each case once."""
    from .results import Results

    first = parts[0]
    assert first.shard is not None
    total = first.shard["total"]
    seen: dict[int, str] = {}
    for part in parts:
        assert part.shard is not None
        k = part.shard["index"]
        if k in seen:
            raise ShardError(f"{part.file}: shard {k}/{total} was given twice (also {seen[k]})")
        seen[k] = part.file
        _check_part(part)
    missing = [f"{k}/{total}" for k in range(1, total + 1) if k not in seen]
    if missing:
        raise ShardError(f"{first.file}: shard(s) {', '.join(missing)} of this run missing "
                         f"(given: {', '.join(f'{k}/{total} {f}' for k, f in sorted(seen.items()))})")
    places: dict[str, int] = {}
    held_by: dict[str, str] = {}
    for part in parts:
        assert part.shard is not None
        for key, place in zip(part.shard["cases"], part.shard["positions"]):
            if key in held_by:
                raise ShardError(f"{part.file}: case {key} is in two shards (also {held_by[key]})")
            held_by[key], places[key] = part.file, place
    if len(places) != first.shard["of"]:
        raise ShardError(f"{first.file}: the shards hold {len(places)} distinct case(s), the run has "
                         f"{first.shard['of']}")
    cases = [c for part in parts for c in part.results.cases]
    _check_undealt(parts, places)
    # the dealt cases in the unsharded order; after them those no shard was dealt (the
    # pytest plugin's tests that run cases through the fixture, in shard 1)
    cases.sort(key=lambda c: (places.get(case_key(c.scenario, c.path), len(places)), c.attempt or 0))
    environment = first.results.environment.copy()
    environment.pop("shard", None)
    merged = Results(cases=cases, environment=environment,
                     tool=first.results.tool, version=min(p.results.version for p in parts))
    for part in parts:
        merged.scenarios.update(part.results.scenarios)
    return merged


def _check_part(part: _Part) -> None:
    """A shard's file holds the cases its record names, each run once."""
    from .runner import MAX_CASES

    shard = part.shard
    assert shard is not None
    label = f"{part.file}: shard {shard['index']}/{shard['total']}"
    if not 1 <= shard["index"] <= shard["total"] <= MAX_SHARDS:
        raise ShardError(f"{label}: not a shard K/N with 1 <= K <= N <= {MAX_SHARDS}")
    if not 1 <= shard["repeat"] * max(len(shard["cases"]), 1) <= MAX_CASES:
        raise ShardError(f"{label}: {shard['repeat']} run(s) of {len(shard['cases'])} case(s) is no run's count "
                         f"(1 to {MAX_CASES} cases)")
    if len(shard["cases"]) != len(shard["positions"]):
        raise ShardError(f"{label}: its record lists {len(shard['cases'])} case(s) and "
                         f"{len(shard['positions'])} position(s)")
    runs: dict[tuple[str, int | None], CaseResult] = {}
    for case in part.results.cases:
        key = case_key(case.scenario, case.path)
        if (key, case.attempt) in runs:
            run = f" #{case.attempt}" if case.attempt is not None else ""
            raise ShardError(f"{label}: case {key}{run} is in the file twice")
        runs[(key, case.attempt)] = case
    if not 0 <= min(shard["positions"], default=0) <= max(shard["positions"], default=0) < shard["of"]:
        raise ShardError(f"{label}: a position in its record is not a place in a run of {shard['of']} case(s)")
    attempts = range(1, shard["repeat"] + 1) if shard["repeat"] > 1 else [None]
    absent = [f"{key}{f' #{a}' if a is not None else ''}" for key in shard["cases"] for a in attempts
              if (key, a) not in runs]
    if absent:
        raise ShardError(f"{label}: lacks {len(absent)} case(s) its record lists "
                         f"({', '.join(absent[:3])}{', ...' if len(absent) > 3 else ''}); an interrupted shard "
                         "is run again, not merged")


def _check_undealt(parts: list[_Part], places: dict[str, int]) -> None:
    """A case no shard was dealt is in one file only; a dealt one only in its shard's."""
    held_by: dict[tuple[str, int | None], str] = {}
    for part in parts:
        assert part.shard is not None
        own = set(part.shard["cases"])
        for case in part.results.cases:
            key = case_key(case.scenario, case.path)
            if key in places and key not in own:
                raise ShardError(f"{part.file}: holds case {key}, which another shard of the run was dealt")
            if key not in places:
                if (key, case.attempt) in held_by:
                    raise ShardError(f"{part.file}: case {key} is in two shards (also {held_by[key, case.attempt]})")
                held_by[key, case.attempt] = part.file
