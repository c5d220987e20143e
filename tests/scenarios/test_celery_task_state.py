"""scenarios/celery_prefork.toml's [verify.task]: what became of the task, read from
Celery's redis result backend after every process of the worker is gone.

The expected states were measured by hand with the same app and backend
(reports/measured-by-hand.md, "Celery: the task's state in the result backend"):
SIGTERM and SIGINT (warm shutdown) SUCCESS; SIGQUIT (cold shutdown) RETRY, the
running task cancelled "for a retry" by Celery 5.5's cancel_active_requests with its
message already acknowledged, so nothing is queued to run it again; SIGKILL to the
main process: STARTED for ever, or no state at all when the pool child was killed
before it stored STARTED (both seen); SIGTERM to the group: FAILURE, WorkerLostError.
"""

from __future__ import annotations

import shutil

import pytest

from shutdown_probe import expand_cases, load_scenario, run_cases
from tests.support import SCENARIOS

# path -> the check's possible last lines
STATES = {
    "sigterm": {"SUCCESS; 0 queued"},
    "sigint": {"SUCCESS; 0 queued"},
    "sigquit": {"RETRY; 0 queued"},
    "sigkill": {"STARTED (stuck); 0 queued", "no state (lost); 0 queued"},
    "sigterm-group": {"FAILURE: WorkerLostError; 0 queued"},
}


@pytest.fixture(scope="module")
def celery():
    pytest.importorskip("celery")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian's redis-server package; .ci/run installs it)")
    cases = expand_cases([load_scenario(SCENARIOS / "celery_prefork.toml")], list(STATES))
    return {c.path: c for c in run_cases(cases, jobs=2).cases}


@pytest.mark.parametrize("path", list(STATES))
def test_the_task_state_after_the_case_is_the_one_measured_by_hand(celery, path):
    case = celery[path]
    assert case.outcome == "exited", case.error
    (task,) = case.verify
    assert task.error is None, task.error
    assert task.output in STATES[path]
    assert task.passed == (path in ("sigterm", "sigint"))
    assert case.expect.passed, case.expect.failures
