"""The terminal matrix at any width: nothing wider than the width, no word cut.

Read from saved results of real runs: ``tests/data/results.json`` (how it was made is
in ``test_results_loading.py``) and ``tests/data/wide.json``, the bundled scenarios
with the most columns (hooks, a [verify] check, traffic, a service), written by

    shutdown-probe run scenarios/celery_prefork.toml scenarios/uvicorn_workers.toml \\
        scenarios/sqlite_batch.toml --path celery-prefork::sigterm \\
        --path celery-prefork::kill-busy-child --path uvicorn-workers::sigkill \\
        --path uvicorn-workers::sigterm --path sqlite-batch::sigterm --json tests/data/wide.json

The rule under test (``render/layout.py``): a cell wraps between words, never inside
one; long headers become keys named under the table; when no table fits, a list per
path. Every word of every cell and header must therefore appear whole in the text.
"""

from __future__ import annotations

import re

import pytest
from rich.cells import cell_len

from shutdown_probe.render import format_terminal, rows
from shutdown_probe.render.cells import verify_column
from shutdown_probe.render.layout import fit
from shutdown_probe.results import Results, load_results
from tests.support import DATA

FILES = ["results.json", "wide.json"]


def saved(name: str) -> Results:
    return load_results(DATA / name)


def words_of_cells(results: Results) -> set[str]:
    """Every word a matrix cell holds, and every hook and check name (a header, or
    its key's meaning under the table)."""
    words: set[str] = set()
    for cases in rows.by_scenario(results).values():
        hooks, checks = rows.hook_names(cases), rows.check_names(cases)
        words.update(hooks)
        words.update(verify_column(n) for n in checks)
        for row in rows.rows(cases, hooks, any(c.traffic for c in cases), checks,
                             any(c.services for c in cases)):
            for cell in [row.label, *row.hooks, *row.checks, *row.traffic, row.exit, row.time, row.orphans,
                         row.services or ""]:
                words.update(cell.split())
    return words


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_no_line_is_wider_than_the_width_and_no_word_is_cut(name, width):
    results = saved(name)
    text = format_terminal(results, width=width)
    lines = text.splitlines()
    too_wide = [line for line in lines if cell_len(line.rstrip()) > width]
    assert not too_wide, too_wide[:3]
    assert "…" not in text  # rich's ellipsis: a cell cut short
    flat = " ".join(line.strip(" │┃") for line in lines)
    missing = sorted(w for w in words_of_cells(results) if w not in flat)
    assert not missing, missing[:10]


def test_at_200_columns_a_table_keeps_its_full_headers():
    text = format_terminal(saved("results.json"), width=200)
    header = next(line for line in text.splitlines() if "┃ path" in line and "lifespan_shutdown" in line)
    assert "atexit:slow_asgi.flush_on_exit" in header
    assert not re.search(r"^h\d+ = ", text, re.M)  # no keys needed


def test_at_80_columns_long_headers_become_keys_named_under_the_table():
    text = format_terminal(saved("results.json"), width=80)
    block = text.split("\n\n")[0]  # flask-dev-traffic: one hook, the traffic columns
    header = next(line for line in block.splitlines() if line.startswith("┃ path"))
    assert re.match(r"┃ path +┃ h1 +┃ +drained +┃ new +┃ port +┃ exit +┃ +time +┃ orphans +┃", header), header
    assert "h1 = atexit:flush_on_exit; new = new requests" in block


def test_a_matrix_no_table_fits_is_a_list_per_path():
    """celery-prefork at 80 columns: 13 columns, a 43-character hook name."""
    text = format_terminal(saved("wide.json"), width=80)
    celery = text.split("\n\n")[0]
    assert "┏" not in celery
    lines = [line.rstrip() for line in celery.splitlines()]
    start = lines.index("sigterm")
    block = lines[start:lines.index("kill-busy-child")]
    assert [re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] for line in block[1:]] == [
        "task_done", "worker_shutdown", "process_shutdown", "atexit", "worker_lost",
        "atexit:celery_app.flush_on_exit", "atexit:multiprocessing.util._exit_function", "verify:task",
        "exit", "time", "orphans", "services"]
    assert re.fullmatch(r"  exit +rc 0", block[9])


def test_the_time_of_a_row_whose_orphans_were_killed_says_so():
    """uvicorn --workers 2 on SIGKILL: the supervisor ends at once, its workers serve on
    until the harness kills them; the escalations say when."""
    results = saved("wide.json")
    case = next(c for c in results.cases if c.scenario == "uvicorn-workers" and c.path == "sigkill")
    assert case.orphans and all(o.killed_by_harness for o in case.orphans)
    killed_at = max(e.at_s for e in case.escalations if e.at_s is not None)
    want = f"{case.root_exit_s:.2f} s (orphans: {killed_at:.1f} s)"
    assert want in format_terminal(results, width=300)
    assert "the root ended after A s; processes it left ran on until the harness killed them at B s" in \
        " ".join(format_terminal(results, width=300).split())


def test_fit():
    assert fit([5, 5], [10, 10], 20) == [10, 10]  # all fit whole
    assert fit([5, 5], [10, 10], 19, wrap=False) is None
    # 21 columns to share, wanted 5 and 25: 21*5//30 = 3 and 21*25//30 = 17, the one
    # left to the column that still wants the most
    assert fit([5, 5], [10, 30], 31) == [8, 23]
    assert fit([5, 5], [10, 30], 9) is None  # even the longest words do not fit
    widths = fit([3, 8, 4], [40, 9, 12], 33)
    assert widths is not None and sum(widths) == 33 and all(w >= m for w, m in zip(widths, [3, 8, 4]))
