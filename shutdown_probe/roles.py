"""Framework roles: what each Python process of a case is to the framework that started it.

A pure function of the probe's events (:mod:`.probe` reads them): each process's
``start`` event (argv, parent, how it began, the reloader variables it inherited) and the
signal handlers it installed. Every rule reads the mark the framework itself leaves, found
in its source, never a guess from a process's place in the tree:

=====================  ===========================================================
Werkzeug reloader      the child runs with ``WERKZEUG_RUN_MAIN=true``; its parent is
                       the reloader parent
Django runserver       ``django.utils.autoreload.run_with_reloader`` installs a SIGTERM
                       handler in both processes; the serving child has ``RUN_MAIN=true``
gunicorn               the arbiter and its workers run the ``gunicorn`` program
uvicorn ``--reload``   the supervisor installs ``uvicorn.supervisors.basereload``'s handler
                       and starts its server as a multiprocessing spawn child
uvicorn ``--workers``  the supervisor installs ``uvicorn.supervisors.multiprocess``'s
                       handler; its workers are spawn children
hypercorn              ``hypercorn.run.run`` installs its ``shutdown`` handler in the parent
                       and starts each worker as a spawn child
Celery                 billiard's pool worker installs ``billiard.pool.soft_timeout_sighandler``;
                       the process that forked it (or installed ``celery.apps.worker``'s
                       handlers) is the main process
multiprocessing        the resource tracker and forkserver run ``-c "from
                       multiprocessing.resource_tracker import main..."`` (``forkserver``);
                       a spawn child runs ``spawn_main``; a forkserver child is forked by
                       the forkserver
=====================  ===========================================================

Anything else forked (``os.fork``, a fork-method pool) is ``fork-child``.
"""

from __future__ import annotations

from typing import Any

from .mphelpers import FORKSERVER as MP_FORKSERVER
from .mphelpers import RESOURCE_TRACKER as MP_RESOURCE_TRACKER
from .mphelpers import mp_helper

# The role names: scenario files select processes by them (``ran_in``, a trigger's
# ``role``), so they are part of the contract.
RELOADER_PARENT = "reloader-parent"
RELOADER_CHILD = "reloader-child"
MASTER = "master"
WORKER = "worker"
MP_CHILD = "mp-child"
FORK_CHILD = "fork-child"
ROLES = (RELOADER_PARENT, RELOADER_CHILD, MASTER, WORKER, MP_CHILD, MP_RESOURCE_TRACKER, MP_FORKSERVER,
         FORK_CHILD)
# What each framework role is, in a sentence (the generated reference,
# docs/reference/roles.md, reads it: shutdown_probe/docgen.py).
ROLE_MEANINGS: dict[str, str] = {
    RELOADER_PARENT: "the watching parent of a reloader (Werkzeug, Django runserver, uvicorn --reload): "
                     "it restarts the serving child and does not serve itself",
    RELOADER_CHILD: "the serving child of a reloader (WERKZEUG_RUN_MAIN / RUN_MAIN set, or uvicorn's "
                    "spawned server)",
    MASTER: "a pre-fork server's supervisor (gunicorn's arbiter, uvicorn --workers, hypercorn, "
            "Celery's main process): it starts and replaces the workers",
    WORKER: "a worker a master started (a gunicorn or uvicorn worker, a billiard pool process)",
    MP_CHILD: "a child multiprocessing started with the spawn or forkserver method",
    MP_RESOURCE_TRACKER: "multiprocessing's resource tracker (a helper, never the app's worker)",
    MP_FORKSERVER: "multiprocessing's fork server (a helper, never the app's worker)",
    FORK_CHILD: "any other process forked by a Python process (os.fork, a fork-method pool)",
}
# The names the harness gives a case's processes by where they sit in the tree (a
# process record's ``role``; a trigger's ``to`` and an expectation's ``ran_in`` read
# them). ``child-N`` and ``ACTION-child`` stand for the numbered and per-action names.
TREE_ROLES: dict[str, str] = {
    "root": "the process the harness launched (behind an init or a PID-1 launcher: the app the init started)",
    "child": "the root's working child: the one the Werkzeug reloader marked, else one listening on a TCP "
             "port, else the oldest; never a multiprocessing helper",
    "child-N": "the root's other children, numbered from 2 (multiprocessing's helpers last)",
    "grandchild": "a child of one of the root's children",
    "descendant": "any process further down the root's tree",
    "adopted": "a process of the case re-parented to the harness (a double fork, an orphan)",
    "launcher": "the harness's PID-1 launcher that starts a new PID namespace (stop profiles with pid1)",
    "init": "the init that is PID 1 of the case's namespace (docker-stop-init and the like)",
    "trigger": "the process a scenario's command trigger started",
    "pre-stop": "the process k8s-delete's pre_stop command started",
    "exec-stop": "a process a systemd profile's exec_stop started",
    "ACTION-child": "a process one of those actions started (trigger-child, pre-stop-child, exec-stop-child)",
}
# multiprocessing's own helpers: never the process doing the app's work
HELPERS = frozenset({MP_RESOURCE_TRACKER, MP_FORKSERVER})

# the signal handlers (their module-qualified names, as the probe writes them) that
# mark a process, by prefix
_DJANGO_RELOADER = "django.utils.autoreload.run_with_reloader."
_UVICORN_RELOAD = "uvicorn.supervisors.basereload."
_UVICORN_WORKERS = "uvicorn.supervisors.multiprocess."
_HYPERCORN = "hypercorn.run.run."
_BILLIARD_WORKER = "billiard.pool.soft_timeout_sighandler"
_CELERY_MAIN = "celery.apps.worker."

# what a spawn child of each supervisor is
_SUPERVISED = {RELOADER_PARENT: RELOADER_CHILD, MASTER: WORKER}


def _argv(start: dict[str, Any] | None) -> str:
    return " ".join(start.get("argv") or []) if start else ""


def _mp_helper(start: dict[str, Any]) -> str | None:
    """The resource tracker or the forkserver (told by :mod:`mphelpers` from the command
    line multiprocessing starts them with); a forkserver's children are forks, not
    execs, so they never look like it."""
    return mp_helper(_argv(start)) if start.get("how") == "exec" else None


def _spawned(start: dict[str, Any]) -> bool:
    """A child multiprocessing started with the spawn method."""
    argv = start.get("argv") or []
    return start.get("how") == "exec" and "--multiprocessing-fork" in argv and "spawn_main" in _argv(start)


def _by_handlers(names: list[str], start: dict[str, Any]) -> str | None:
    """The role a process's own signal handlers mark it with."""
    if any(n.startswith(_DJANGO_RELOADER) for n in names):
        return RELOADER_CHILD if start.get("run_main") == "true" else RELOADER_PARENT
    if any(n.startswith(_UVICORN_RELOAD) for n in names):
        return RELOADER_PARENT
    if any(n.startswith((_UVICORN_WORKERS, _HYPERCORN, _CELERY_MAIN)) for n in names):
        return MASTER
    if _BILLIARD_WORKER in names:
        return WORKER
    return None


def framework_roles(starts: dict[int, dict[str, Any]], handlers: dict[int, list[str]]) -> dict[int, str]:
    """pid -> role, for the processes whose role can be known.

    ``starts``: pid -> its ``start`` event; ``handlers``: pid -> the names of the signal
    handlers it installed, in order."""
    out: dict[int, str] = {}
    for pid, start in starts.items():
        role = _mp_helper(start) or _by_handlers(handlers.get(pid, []), start)
        if role is not None:
            out[pid] = role
    children: dict[int, list[int]] = {}
    for pid, start in starts.items():
        if isinstance(start.get("ppid"), int):
            children.setdefault(start["ppid"], []).append(pid)
    for pid, start in starts.items():
        if pid in out:
            continue
        role = _by_relatives(pid, start, starts, children, out, handlers)
        if role is not None:
            out[pid] = role
    return out


def _by_relatives(pid: int, start: dict[str, Any], starts: dict[int, dict[str, Any]],
                  children: dict[int, list[int]], known: dict[int, str],
                  handlers: dict[int, list[str]]) -> str | None:
    """The role of a process its own handlers do not mark: from its parent or children."""
    ppid = start.get("ppid")
    parent = starts.get(ppid) if isinstance(ppid, int) else None
    parent_role = known.get(ppid) if isinstance(ppid, int) else None
    kids = [starts[c] for c in children.get(pid, [])]
    if start.get("werkzeug_run_main") == "true" and (parent is None or parent.get("werkzeug_run_main") != "true"):
        return RELOADER_CHILD
    if any(k.get("werkzeug_run_main") == "true" for k in kids) and start.get("werkzeug_run_main") != "true":
        return RELOADER_PARENT
    if any(_BILLIARD_WORKER in handlers.get(c, []) for c in children.get(pid, [])):
        return MASTER  # Celery's main process (or any process running a billiard pool)
    if "gunicorn" in _argv(start):
        return WORKER if parent is not None and "gunicorn" in _argv(parent) else MASTER
    if _spawned(start):
        return _SUPERVISED.get(parent_role or "", MP_CHILD)
    if start.get("how") == "fork":
        return MP_CHILD if parent_role == MP_FORKSERVER else FORK_CHILD
    return None

