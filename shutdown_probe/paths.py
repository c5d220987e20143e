"""The catalogue of termination paths.

A path is data: what to send, and to whom. The runner reads these records and never
special-cases a path by name, so a later path (a deployment stop profile, a fault)
is a new record here, not a new branch in the runner.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class Path:
    """One way to end the target.

    ``target`` says who receives ``signal``:

    * ``root``  - the process the harness launched;
    * ``child`` - the root's child that does the work (for the Werkzeug reloader: the
      serving child); a case is skipped when the root has no child;
    * ``group`` - the root's process group, delivered by the kernel in one call, as a
      terminal's Ctrl-C is;
    * ``worker`` - the process that serves: the root's working child if it has one,
      else the root. Used by the probe's injected exits;
    * ``trigger`` - no signal: the scenario's trigger of the same name is fired;
    * ``aim`` - the scenario's signal trigger of the same name: ``signal`` to the
      processes its ``to``/``role``/``cmdline``/``nth`` choose (:mod:`~shutdown_probe.aim`);
    * ``profile`` - a deployment's whole stop sequence, described by ``profile``;
    * ``touch`` - no signal: the modification time of the app's watched source file
      (``[app] watch``) is set to now, as an edit would, for a file-watching reloader.

    ``reload`` marks a path that expects the app to stay (a reload): it is opt-in,
    never one of the default paths.

    ``inject`` names the exit the Python probe performs inside the target when it
    receives ``signal`` (:data:`INJECT_SIGNAL`); such a path needs the probe loaded.
    """

    name: str
    target: str
    signal: int | None
    summary: str
    inject: str | None = None
    profile: "StopProfile | None" = None
    reload: bool = False

    @property
    def needs_trigger(self) -> bool:
        return self.target == "trigger"


@dataclass(frozen=True)
class StopProfile:
    """How one kind of deployment stops a service: who is signalled, how long they
    get, and who is killed when the grace period runs out.

    * ``to``: who receives the stop signal - ``pid1`` (PID 1 of the container: the
      app itself, or the init when ``pid1 == "init"``), ``root`` (the launched
      process only), ``group`` (its process group, in one call) or ``all`` (every
      process of the service, one by one, as a cgroup walk does);
    * ``waits_for``: what the stopper waits for before it calls the stop done -
      ``all`` its processes, or just the ``root``;
    * ``kill``: who gets SIGKILL when ``grace`` runs out (``all``, ``root``,
      ``group``), or ``none`` for a stopper that never kills;
    * ``pid1``: ``None`` (an ordinary process), ``app`` (the app is PID 1 of a new
      PID namespace, as in a container without an init) or ``init`` (a minimal init
      is PID 1 and the app its child);
    * ``sigcont``: SIGCONT right after the stop signal (systemd);
    * ``pre_stop``: the scenario may give an action that runs first, inside the grace;
    * ``repeat``: the stop signal is sent a second time while cleanup runs;
    * ``init``: which init is PID 1 when ``pid1 == "init"``, by how it forwards a
      signal - ``tini`` (to its child only), ``tini-group`` (``tini -g``: to the
      child's process group) or ``dumb-init`` (the child leads a session of its own;
      a signal goes to that session's process group, and when the child dies, SIGTERM
      goes to the group before the init exits);
    * ``after_main``: what the stopper does to the other processes once the main
      process has exited - ``wait`` for them (until the grace runs out), ``kill``
      them at once (systemd ``KillMode=mixed``), or ``final-sigterm``: the stop
      signal again to every process left, then a new grace before the SIGKILL
      (systemd ``KillMode=control-group``'s "final SIGTERM");
    * ``exec_stop``: the scenario may give commands that run first (systemd
      ``ExecStop=``), each within the grace; the stop signal follows them, and the
      grace starts again from it.
    """

    stopper: str
    to: str
    waits_for: str
    kill: str
    grace: float | None  # the stopper's default, in seconds; None when it never kills
    source: str
    pid1: str | None = None
    sigcont: bool = False
    pre_stop: bool = False
    repeat: bool = False
    init: str | None = None
    after_main: str = "wait"
    exec_stop: bool = False


def _sig(name: str, target: str, signum: signal.Signals, summary: str) -> Path:
    return Path(name, target, signum, summary)


# The probe's command channel: a real-time signal no framework uses. The probe
# installs a handler for it only in cases that run an inject path, so every other
# case sees the target's dispositions untouched.
INJECT_SIGNAL = signal.SIGRTMIN + 7


def _inject(action: str, summary: str) -> Path:
    return Path(f"inject-{action}", "worker", INJECT_SIGNAL, summary, inject=action)


def _profile(name: str, signum: signal.Signals, summary: str, profile: StopProfile) -> Path:
    return Path(name, "profile", signum, summary, profile=profile)


_DOCKER_SOURCE = ("docker/cli docs/reference/commandline/container_stop.md: SIGTERM (or the image's "
                  "STOPSIGNAL) to the main process, wait --timeout (10 s on Linux), then SIGKILL")

PROFILE_PATHS_LIST = (
    _profile("docker-stop", signal.SIGTERM,
             "`docker stop`: the app is PID 1 of its own PID namespace; SIGTERM to it, 10 s, then SIGKILL",
             StopProfile("Docker", "pid1", "all", "all", 10.0, _DOCKER_SOURCE, pid1="app")),
    _profile("docker-stop-init", signal.SIGTERM,
             "`docker run --init` + `docker stop`: an init is PID 1 and forwards SIGTERM to the app; 10 s, SIGKILL",
             StopProfile("Docker with --init", "pid1", "all", "all", 10.0,
                         _DOCKER_SOURCE + "; krallin/tini README: tini forwards signals to its child",
                         pid1="init", init="tini")),
    _profile("docker-stop-tini-group", signal.SIGTERM,
             "`docker run --init` with `tini -g` + `docker stop`: the init forwards SIGTERM to the app's "
             "whole process group; 10 s, SIGKILL",
             StopProfile("Docker with tini -g", "pid1", "all", "all", 10.0,
                         _DOCKER_SOURCE + "; krallin/tini README, 'Process group killing': with -g tini "
                         "sends the signals it receives to the child's process group",
                         pid1="init", init="tini-group")),
    _profile("docker-stop-dumb-init", signal.SIGTERM,
             "dumb-init as PID 1 + `docker stop`: SIGTERM to the app's whole session (its group), "
             "SIGTERM to the rest when the app exits; 10 s, SIGKILL",
             StopProfile("Docker with dumb-init", "pid1", "all", "all", 10.0,
                         _DOCKER_SOURCE + "; Yelp/dumb-init README, 'Session behavior': the child leads "
                         "a session of its own and signals go to its whole process group "
                         "(--single-child: to the child only)",
                         pid1="init", init="dumb-init")),
    _profile("k8s-delete", signal.SIGTERM,
             "Kubernetes pod deletion: the preStop action, then SIGTERM to PID 1; 30 s in all, then SIGKILL",
             StopProfile("Kubernetes", "pid1", "all", "all", 30.0,
                         "kubernetes.io Pod Lifecycle, 'Termination of Pods': preStop hook (counted in the "
                         "grace, +2 s once if it overruns), TERM to process 1 of each container, "
                         "terminationGracePeriodSeconds 30, then SIGKILL",
                         pid1="app", pre_stop=True)),
    _profile("systemd-stop", signal.SIGTERM,
             "`systemctl stop`: SIGTERM and SIGCONT to every process of the service; once the main process "
             "has exited, SIGTERM again to every process left and 90 s more; 90 s, then SIGKILL to all",
             StopProfile("systemd", "all", "all", "all", 90.0,
                         "systemd.kill(5): KillMode=control-group, KillSignal=SIGTERM followed by SIGCONT, "
                         "TimeoutStopSec (DefaultTimeoutStopSec 90 s), then FinalKillSignal=SIGKILL; src/core/"
                         "service.c: when the main process exits, stop-post (ExecStopPost=, not modelled), then "
                         "the final SIGTERM to the processes left in the control group (final-sigterm, "
                         "unit_kill_context), with TimeoutStopSec again before the final SIGKILL",
                         sigcont=True, exec_stop=True, after_main="final-sigterm")),
    _profile("systemd-stop-mixed", signal.SIGTERM,
             "`systemctl stop` with KillMode=mixed: SIGTERM and SIGCONT to the main process only; when it "
             "has exited, or after 90 s, SIGKILL to every process left",
             StopProfile("systemd (KillMode=mixed)", "root", "all", "all", 90.0,
                         "systemd.kill(5): KillMode=mixed sends the SIGTERM to the main process and the "
                         "subsequent SIGKILL to all remaining processes of the control group; src/core/"
                         "service.c: once the main process has exited, the final SIGTERM has no one to "
                         "signal and the final SIGKILL follows at once",
                         sigcont=True, after_main="kill", exec_stop=True)),
    _profile("systemd-stop-process", signal.SIGTERM,
             "`systemctl stop` with KillMode=process: SIGTERM and SIGCONT to the main process only; "
             "90 s, SIGKILL to it only; the rest is left running",
             StopProfile("systemd (KillMode=process)", "root", "root", "root", 90.0,
                         "systemd.kill(5): KillMode=process, only the main process itself is killed "
                         "(not recommended!); TimeoutStopSec 90 s",
                         sigcont=True, exec_stop=True)),
    _profile("supervisor-stop", signal.SIGTERM,
             "supervisord stop: SIGTERM to the program's process only; 10 s, SIGKILL to it only; children stay",
             StopProfile("supervisord", "root", "root", "root", 10.0,
                         "supervisord docs/configuration.rst [program:x]: stopsignal=TERM, stopwaitsecs=10, "
                         "stopasgroup=false, killasgroup=false")),
    _profile("supervisor-stop-group", signal.SIGTERM,
             "supervisord with stopasgroup=true: SIGTERM to the process group; 10 s, SIGKILL to the group",
             StopProfile("supervisord (stopasgroup)", "group", "root", "group", 10.0,
                         "supervisord docs/configuration.rst [program:x]: stopasgroup=true (implies "
                         "killasgroup), stopwaitsecs=10")),
    _profile("supervisor-stop-killasgroup", signal.SIGTERM,
             "supervisord with killasgroup=true only: SIGTERM to the program's process; 10 s, SIGKILL "
             "to its process group",
             StopProfile("supervisord (killasgroup)", "root", "root", "group", 10.0,
                         "supervisord docs/configuration.rst [program:x]: stopasgroup=false, "
                         "killasgroup=true (the final SIGKILL goes to the whole process group), "
                         "stopwaitsecs=10; Celery's extra/supervisord/celeryd.conf sets killasgroup only")),
    _profile("heroku-stop", signal.SIGTERM,
             "Heroku dyno stop: SIGTERM to every process of the dyno; 30 s, then SIGKILL",
             StopProfile("Heroku", "all", "all", "all", 30.0,
                         "devcenter.heroku.com/articles/dyno-shutdown-behavior: SIGTERM to all processes "
                         "in the dyno, 30 s, then SIGKILL")),
    _profile("double-ctrl-c", signal.SIGINT,
             "an impatient operator: Ctrl-C, then Ctrl-C again while cleanup runs",
             StopProfile("a terminal", "group", "all", "none", None,
                         "termios(3): VINTR sends SIGINT to the foreground process group",
                         repeat=True)),
)

BUILTIN_PATHS: dict[str, Path] = {
    p.name: p
    for p in (
        _sig("sigint", "root", signal.SIGINT,
             "SIGINT to the root process only (Python raises KeyboardInterrupt)"),
        _sig("sigterm", "root", signal.SIGTERM,
             "SIGTERM to the root process only (what `kill PID` and `docker stop` send)"),
        _sig("sighup", "root", signal.SIGHUP,
             "SIGHUP to the root process only (the terminal went away)"),
        _sig("sigquit", "root", signal.SIGQUIT,
             "SIGQUIT to the root process only (Ctrl-\\; default action dumps core)"),
        _sig("sigkill", "root", signal.SIGKILL,
             "SIGKILL to the root process only (`kill -9`; nothing can run)"),
        _sig("sigint-child", "child", signal.SIGINT,
             "SIGINT to the root's working child (the Werkzeug reloader's serving child)"),
        _sig("sigterm-child", "child", signal.SIGTERM,
             "SIGTERM to the root's working child"),
        _sig("sigkill-child", "child", signal.SIGKILL,
             "SIGKILL to the root's working child (article 1's `kill -9` on the second PID)"),
        _sig("ctrl-c", "group", signal.SIGINT,
             "SIGINT to the whole process group at once, as a terminal's Ctrl-C does"),
        _sig("sigterm-group", "group", signal.SIGTERM,
             "SIGTERM to the whole process group at once (systemd, Heroku, supervisord stopasgroup)"),
        Path("os-exit", "trigger", None,
             "fire the scenario's `os-exit` trigger (an app action that calls os._exit)"),
        _inject("os-exit", "the probe calls os._exit(0) in the serving process (Python targets)"),
        _inject("sys-exit", "the probe raises SystemExit(0) in the serving process's main thread"),
        _inject("exception", "the probe raises an unhandled RuntimeError in the serving process's main thread"),
        _inject("segfault", "the probe makes the serving process read address 0 (a real SIGSEGV)"),
        _inject("abort", "the probe calls os.abort() in the serving process (SIGABRT)"),
        Path("sighup-reload", "root", signal.SIGHUP,
             "SIGHUP to the root, expecting a reload: the app stays, its processes change, it still answers",
             reload=True),
        Path("touch-reload", "touch", None,
             "update the mtime of the app's watched source file ([app] watch), as an edit does for a reloader",
             reload=True),
        *PROFILE_PATHS_LIST,
    )
}

# The paths a scenario runs when it does not list any: every signal path, plus
# `os-exit` when the scenario defines that trigger. Inject paths and stop profiles
# (whose grace periods can take minutes) are opt-in.
SIGNAL_PATHS: tuple[str, ...] = tuple(
    name for name, p in BUILTIN_PATHS.items()
    if not p.needs_trigger and p.inject is None and p.profile is None and not p.reload
)
RELOAD_PATHS: tuple[str, ...] = tuple(name for name, p in BUILTIN_PATHS.items() if p.reload)
INJECT_PATHS: tuple[str, ...] = tuple(name for name, p in BUILTIN_PATHS.items() if p.inject)
PROFILE_PATHS: tuple[str, ...] = tuple(p.name for p in PROFILE_PATHS_LIST)


def trigger_path(name: str) -> Path:
    """A path made from a scenario's own ``[triggers.NAME]`` table."""
    return Path(name, "trigger", None, f"fire the scenario's `{name}` trigger")


def aimed_path(name: str, signum: int, whom: str) -> Path:
    """A path made from a scenario's signal trigger ``[triggers.NAME]``: ``signum`` to
    the processes ``whom`` (the trigger's selector, in words) names."""
    return Path(name, "aim", signum, f"{signal_name(signum)} to {whom} (the scenario's `{name}` trigger)")


def signal_name(signum: int | None) -> str | None:
    """``9`` -> ``"SIGKILL"``; ``None`` and unknown numbers stay readable."""
    if signum is None:
        return None
    if signal.SIGRTMIN < signum <= signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
