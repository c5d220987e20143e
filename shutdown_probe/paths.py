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
    * ``trigger`` - no signal: the scenario's trigger of the same name is fired.

    ``inject`` names the exit the Python probe performs inside the target when it
    receives ``signal`` (:data:`INJECT_SIGNAL`); such a path needs the probe loaded.
    """

    name: str
    target: str
    signal: int | None
    summary: str
    inject: str | None = None

    @property
    def needs_trigger(self) -> bool:
        return self.target == "trigger"


def _sig(name: str, target: str, signum: signal.Signals, summary: str) -> Path:
    return Path(name, target, signum, summary)


# The probe's command channel: a real-time signal no framework uses. The probe
# installs a handler for it only in cases that run an inject path, so every other
# case sees the target's dispositions untouched.
INJECT_SIGNAL = signal.SIGRTMIN + 7


def _inject(action: str, summary: str) -> Path:
    return Path(f"inject-{action}", "worker", INJECT_SIGNAL, summary, inject=action)


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
    )
}

# The paths a scenario runs when it does not list any: every signal path, plus
# `os-exit` when the scenario defines that trigger. Inject paths are opt-in.
SIGNAL_PATHS: tuple[str, ...] = tuple(
    name for name, p in BUILTIN_PATHS.items() if not p.needs_trigger and p.inject is None
)
INJECT_PATHS: tuple[str, ...] = tuple(name for name, p in BUILTIN_PATHS.items() if p.inject)


def trigger_path(name: str) -> Path:
    """A path made from a scenario's own ``[triggers.NAME]`` table."""
    return Path(name, "trigger", None, f"fire the scenario's `{name}` trigger")


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
