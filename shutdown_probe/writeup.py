"""The articles' write-up: its model, how it is read, and how each experiment is judged.

``reports/articles.toml`` retells the two blog posts the project started from: per
experiment, a bundled scenario and one of its paths, what the author did, saw and
concluded, and three claims in the vocabulary of ``[expect.PATH]`` tables: the
author's **observation**, the author's **explanation**, and (optionally) the
**finding**, what the harness shows really happens. :func:`load` reads and validates
such a file; :func:`judge` checks an experiment's claims against the case that ran
and gives the verdict. The verdict is computed on every run; the file never says
which way a claim goes.

The command that runs the cases and writes the pages is ``shutdown-probe articles``
(:mod:`shutdown_probe.cli`); :mod:`shutdown_probe.render.articles` renders them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from .errors import ScenarioError
from .results import CaseResult, ExpectResult, Results
# the scenario loader's checker: the write-up is checked with the same words as a
# scenario file
from .scenario import Checker, Expectation, Scenario, did_you_mean, load_scenario, parse_expectation, read_toml

TOP_KEYS = ("title", "intro", "articles", "experiments")
ARTICLE_KEYS = ("id", "title", "setup", "conclusion")
EXPERIMENT_KEYS = ("article", "title", "scenario", "path", "saw", "concluded", "observation", "explanation",
                   "finding")
SECTIONS = ("observation", "explanation", "finding")

# verdicts, from best to worst news for the author
REPRODUCED = "reproduced and explained"
MORE = "reproduced and explained; the run shows more"
WRONG = "reproduced; the explanation is wrong"
NOT_REPRODUCED = "not reproduced"
UNTESTED = "untested"


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    setup: str
    conclusion: str


@dataclass(frozen=True)
class Experiment:
    article: str
    title: str
    scenario: Scenario
    path: str
    saw: str
    concluded: str
    # section name -> its checks and claim: observation and explanation always,
    # finding when the file gives one
    claims: dict[str, Expectation]

    @property
    def case_id(self) -> str:
        return f"{self.scenario.name}::{self.path}"


@dataclass(frozen=True)
class Writeup:
    file: FsPath
    title: str
    intro: str
    articles: tuple[Article, ...]
    experiments: tuple[Experiment, ...]

    def case_ids(self) -> list[str]:
        """``SCENARIO::PATH`` of every case the experiments need, each once, in order."""
        return list(dict.fromkeys(e.case_id for e in self.experiments))

    def scenario_files(self) -> list[FsPath]:
        return list(dict.fromkeys(e.scenario.file for e in self.experiments))

    def scenarios(self) -> list[Scenario]:
        """The scenarios the experiments need, each once, in the order of their files."""
        return list({e.scenario.file: e.scenario for e in self.experiments}.values())


@dataclass
class Judgement:
    """An experiment checked against one case: each claim's result and the verdict."""

    experiment: Experiment
    case: CaseResult | None
    checks: dict[str, ExpectResult] = field(default_factory=dict)
    verdict: str = UNTESTED
    why: str = ""


def _text(c: Checker, table: dict[str, Any], key: str, where: str) -> str:
    if key not in table:
        raise c.fail(f"{where}.{key}", "missing: expected a string")
    return " ".join(c.string(table[key], f"{where}.{key}").split())


def _array(c: Checker, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """An array of tables (``[[key]]``), one or more, each as (``key[N]``, table)."""
    raw = data.get(key, [])
    if not isinstance(raw, list) or not raw:
        raise c.fail(key, f"expected one or more [[{key}]] tables")
    out = []
    for i, item in enumerate(raw, 1):
        where = f"{key}[{i}]"
        table = c.table(item, where)
        c.keys(table, allowed, where)
        out.append((where, table))
    return out


def load(file: str | os.PathLike[str]) -> Writeup:
    """Read and validate a write-up; every mistake is one :class:`ScenarioError` line."""
    path = FsPath(file)
    shown = str(file)
    data = read_toml(path, shown)
    c = Checker(shown)
    c.keys(data, TOP_KEYS, "")
    articles = [Article(*(_text(c, table, key, where) for key in ARTICLE_KEYS))
                for where, table in _array(c, data, "articles", ARTICLE_KEYS)]
    ids = [a.id for a in articles]
    if len(set(ids)) != len(ids):
        raise c.fail("articles", f"two articles have the id '{next(i for i in ids if ids.count(i) > 1)}'")
    scenarios: dict[FsPath, Scenario] = {}
    experiments: list[Experiment] = []
    for where, table in _array(c, data, "experiments", EXPERIMENT_KEYS):
        article = _text(c, table, "article", where)
        if article not in ids:
            raise c.fail(f"{where}.article", f"unknown article '{article}'{did_you_mean(article, ids)} "
                                             f"(articles: {', '.join(ids)})")
        scenario_file = (path.parent / _text(c, table, "scenario", where)).resolve()
        if scenario_file not in scenarios:
            try:
                scenarios[scenario_file] = load_scenario(scenario_file)
            except ScenarioError as exc:
                raise c.fail(f"{where}.scenario", f"{exc}") from None
        scenario = scenarios[scenario_file]
        path_name = _text(c, table, "path", where)
        c.name_in(path_name, [p.name for p in scenario.paths], f"{where}.path", "path")
        claims: dict[str, Expectation] = {}
        for section in SECTIONS:
            if section not in table:
                if section == "finding":
                    continue
                raise c.fail(f"{where}.{section}", "missing: expected a table with a claim and its checks")
            key = f"{where}.{section}"
            expectation = parse_expectation(c, table[section], key, path_name, scenario.hooks,
                                            probe=scenario.app.probe is not False, traffic=scenario.traffic,
                                            checks=tuple(scenario.verify))
            if expectation.claim is None:
                raise c.fail(f"{key}.claim", "missing: expected a sentence saying what the checks show")
            claims[section] = expectation
        experiments.append(Experiment(article, _text(c, table, "title", where), scenario, path_name,
                                      _text(c, table, "saw", where), _text(c, table, "concluded", where), claims))
    title = _text(c, data, "title", "") if "title" in data else "The articles, reproduced"
    intro = " ".join(c.string(data.get("intro", ""), "intro").split())
    return Writeup(path, title, intro, tuple(articles), tuple(experiments))


def judge(experiment: Experiment, case: CaseResult | None) -> Judgement:
    """Check the experiment's claims against ``case`` and say what that means."""
    from .expect import evaluate

    out = Judgement(experiment, case)
    if case is None:
        out.why = "the case did not run"
        return out
    out.checks = {name: evaluate(exp, case) for name, exp in experiment.claims.items()}
    verdicts = {name: r.verdict for name, r in out.checks.items()}
    if "untested" in verdicts.values():
        out.why = case.error or f"the case ended {case.outcome}"
        return out
    if verdicts["observation"] == "refuted":
        out.verdict = NOT_REPRODUCED
        out.why = "; ".join(out.checks["observation"].failures)
    elif verdicts["explanation"] == "refuted":
        out.verdict = WRONG
        found = out.checks.get("finding")
        if found is not None and found.verdict == "confirmed":
            out.why = f"{found.claim}"
        else:
            out.why = "; ".join(out.checks["explanation"].failures)
    elif verdicts.get("finding") == "confirmed":
        out.verdict = MORE
        out.why = out.checks["finding"].claim or ""
    else:
        out.verdict = REPRODUCED
    if verdicts.get("finding") == "refuted":
        out.why += ("; " if out.why else "") + "the finding itself did not hold: " + "; ".join(
            out.checks["finding"].failures)
    return out


def judge_all(writeup: Writeup, results: Results) -> list[Judgement]:
    """One judgement per experiment, against the first case of its scenario and path."""
    by_id: dict[str, CaseResult] = {}
    for case in results.cases:
        by_id.setdefault(f"{case.scenario}::{case.path}", case)
    return [judge(e, by_id.get(e.case_id)) for e in writeup.experiments]
