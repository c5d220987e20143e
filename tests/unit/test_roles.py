"""Framework roles from the probe's events (``shutdown_probe/roles.py``): the rules that
the real servers of tests/harness/test_roles.py cannot all exercise, on events shaped as
the probe writes them."""

from __future__ import annotations

from shutdown_probe.probe import ProbeReport
from shutdown_probe.render.cells import hook_cell
from shutdown_probe.results import CaseResult, HookResult, ProcessRecord
from shutdown_probe.roles import framework_roles

PY = "/usr/bin/python3"


def start(pid: int, ppid: int, argv: list[str] | None, how: str = "exec", **env: str | None) -> dict:
    return {"ev": "start", "pid": pid, "t": 1.0, "ppid": ppid, "argv": argv, "how": how,
            "werkzeug_run_main": env.get("werkzeug_run_main"), "run_main": env.get("run_main"),
            "executable": PY if argv else None}


def test_werkzeug_reloader_child_but_not_what_it_forks_or_starts():
    # the child's own children inherit WERKZEUG_RUN_MAIN: they are not reloader children
    starts = {10: start(10, 1, [PY, "app.py"]),
              11: start(11, 10, [PY, "app.py"], werkzeug_run_main="true"),
              12: start(12, 11, [PY, "worker.py"], werkzeug_run_main="true"),
              13: start(13, 11, None, "fork", werkzeug_run_main="true")}
    assert framework_roles(starts, {}) == {10: "reloader-parent", 11: "reloader-child", 13: "fork-child"}


def test_django_needs_its_reloader_handler_not_just_a_run_main_variable():
    lam = "django.utils.autoreload.run_with_reloader.<locals>.<lambda>"
    starts = {10: start(10, 1, [PY, "manage.py", "runserver"]),
              11: start(11, 10, [PY, "manage.py", "runserver"], run_main="true"),
              20: start(20, 1, [PY, "other.py"], run_main="true")}  # RUN_MAIN alone says nothing
    assert framework_roles(starts, {10: [lam], 11: [lam]}) == {10: "reloader-parent", 11: "reloader-child"}


def test_a_spawn_child_is_named_by_its_supervisor():
    spawn = [PY, "-B", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)",
             "--multiprocessing-fork"]
    tracker = [PY, "-B", "-c", "from multiprocessing.resource_tracker import main;main(4)"]
    starts = {10: start(10, 1, [PY, "-m", "uvicorn", "--reload"]), 11: start(11, 10, tracker),
              12: start(12, 10, spawn),
              20: start(20, 1, [PY, "-m", "hypercorn"]), 21: start(21, 20, spawn),
              30: start(30, 1, [PY, "job.py"]), 31: start(31, 30, spawn)}
    handlers = {10: ["uvicorn.supervisors.basereload.BaseReload.signal_handler"],
                20: ["SIG_IGN", "hypercorn.run.run.<locals>.shutdown"]}
    assert framework_roles(starts, handlers) == {
        10: "reloader-parent", 11: "mp-resource-tracker", 12: "reloader-child",
        20: "master", 21: "worker", 31: "mp-child"}


def test_billiard_pool_children_and_their_parent():
    starts = {10: start(10, 1, [PY, "-m", "celery", "worker"]), 11: start(11, 10, None, "fork"),
              12: start(12, 10, None, "fork")}
    handlers = {11: ["SIG_DFL", "billiard.pool.soft_timeout_sighandler"], 12: []}
    # 12 never reached billiard's worker loop: merely forked
    assert framework_roles(starts, handlers) == {10: "master", 11: "worker", 12: "fork-child"}


def test_a_forked_childs_argv_is_its_parents_when_the_probe_left_it_out():
    report = ProbeReport([start(10, 1, [PY, "-m", "gunicorn", "app:app"]), start(11, 10, None, "fork")])
    assert report.starts[11]["argv"] == [PY, "-m", "gunicorn", "app:app"]
    assert report.kinds == {10: "master", 11: "worker"}


def test_a_hook_cell_names_framework_roles_and_counts_alike_processes():
    procs = [ProcessRecord(10, "root", "x", kind="master"), ProcessRecord(11, "child", "x", kind="worker"),
             ProcessRecord(12, "child-2", "x", kind="worker"), ProcessRecord(13, "child-3", "x", kind="fork-child"),
             ProcessRecord(14, "child-4", "x", kind="reloader-child")]
    hooks = {"all": HookResult(True, "", pids=[10, 11, 12], roles=["root", "child", "child-2"]),
             "forked": HookResult(True, "", pids=[13], roles=["child-3"]),
             "reloader": HookResult(True, "", pids=[14], roles=["child-4"], interrupted_pids=[11],
                                    interrupted_roles=["child"])}
    case = CaseResult(scenario="s", path="sigterm", outcome="exited", exit={"returncode": 0, "signal": None},
                      hooks=hooks, processes=procs)
    assert hook_cell(case, "all") == "✓ master+worker×2"
    assert hook_cell(case, "forked") == "✓ child-3"  # "fork-child" says less than its place
    assert hook_cell(case, "reloader") == "✓ child ◐ worker"  # a reloader's child is the child
