"""A minimal signal-forwarding init, like ``docker run --init`` (tini), for the harness.

    python -I -S _forward_init.py [--group] -- COMMAND [ARG...]
    python -I -S _forward_init.py --version

The harness uses tini when it is installed and this program otherwise. It is meant to
run as PID 1 of a new PID namespace (``unshare --pid --fork --mount-proc``), in front
of the application, the way Docker puts tini in front of the image's entrypoint.

What it does, mirroring tini run without ``-g`` (krallin/tini, README sections
"Process group killing" and "Subreaping"; this is an independent implementation):

* It blocks every signal it handles, forks, and the child - after putting itself in a
  process group of its own (``setpgid(0, 0)``, as tini does), resetting every
  disposition to the default and restoring the original signal mask - executes
  COMMAND. A container process starts with default dispositions, so COMMAND gets
  them too, even for a signal this init's parent ignored (tini, itself started with
  defaults by Docker, merely passes on what it inherited). The init also sets the
  child's group from its side, so a ``--group`` forward never races the child.
  Unlike tini's child, it does not take the terminal's foreground (``tcsetpgrp``):
  here the init shares the harness's terminal, and taking it would send the user's
  Ctrl-C to the application instead of the harness.
* The init itself then only waits for signals (``sigtimedwait`` over the blocked set;
  it installs no handlers). Blocked signals are queued even for PID 1, which the
  kernel otherwise spares every signal it has no handler for (pid_namespaces(7)).
* SIGCHLD: it reaps every exited child with ``waitpid(-1, WNOHANG)``. As PID 1 it is
  the parent of every orphan of the namespace, and reaping them is what keeps them
  from lingering as zombies ("Subreaping"). When the main child is reaped it exits
  with the child's exit code, or 128+N if the child died by signal N (tini's
  convention). Grandchildren still running are left alone: when PID 1 exits, the
  kernel SIGKILLs the rest of the namespace. It also reaps once a second without a
  signal, as tini does, as a safety net. It does not make itself a subreaper (tini
  ``-s``): outside a PID namespace, orphans go to the nearest subreaper or init.
* Any other signal it receives is forwarded to the main child only (``kill(pid)``);
  with ``--group`` (tini ``-g``, "Process group killing") to the child's whole process
  group instead. Synchronous fault signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
  SIGTRAP, SIGSYS) and SIGTTIN/SIGTTOU are not handled, as in tini; SIGKILL and SIGSTOP
  cannot be.

If COMMAND cannot be executed, the child prints one line on stderr and exits 127
(126 when the file exists but cannot be executed: permission denied, bad format), so
the init exits with that status. Otherwise the init prints nothing.

Standard library only, run with ``-I -S``: nothing of the target's Python environment
(site, PYTHONPATH, the harness's probe) may load in here.
"""

import errno
import os
import sys

try:
    # The C module behind `signal`: the same functions and constants, as plain ints.
    # `signal` only adds enum wrappers, and importing enum is a third of this
    # program's start-up time.
    import _signal as signal  # type: ignore[import-not-found]  # the C module has no stub
except ImportError:  # pragma: no cover - every CPython has it
    import signal

VERSION = "shutdown-probe forwarding init 1"
USAGE = "usage: _forward_init.py [--group] -- COMMAND [ARG...]"

# Signals raised by the process's own faults (not forwardable in any meaning) and the
# terminal's job-control stops: tini leaves exactly these out of its wait set.
_NOT_HANDLED = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT,
                signal.SIGTRAP, signal.SIGSYS, signal.SIGTTIN, signal.SIGTTOU,
                signal.SIGKILL, signal.SIGSTOP}
HANDLED = frozenset(signal.valid_signals()) - _NOT_HANDLED

# Every disposition a child can be given (all but SIGKILL and SIGSTOP).
_SETTABLE = sorted(frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP})

# How often the wait loop wakes up to reap anyway, as tini does: a safety net only,
# every exit also raises SIGCHLD.
_REAP_PERIOD = 1.0


def _parse(argv):
    group = False
    args = list(argv)
    while args:
        arg = args[0]
        if arg == "--":
            args.pop(0)
            break
        if arg == "--group":
            group = True
            args.pop(0)
        elif arg == "--version":
            sys.stdout.write(VERSION + "\n")
            sys.stdout.flush()
            raise SystemExit(0)
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE + "\n")
            sys.stdout.flush()
            raise SystemExit(0)
        elif arg.startswith("-"):
            sys.stderr.write(f"shutdown-probe init: unknown option {arg!r}\n{USAGE}\n")
            raise SystemExit(2)
        else:
            break
    if not args:
        sys.stderr.write(f"shutdown-probe init: no command given\n{USAGE}\n")
        raise SystemExit(2)
    return group, args


def _child(command, old_mask):
    """In the forked child: become a process-group leader, reset signals, exec."""
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        for sig in _SETTABLE:
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            code = 126 if exc.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC) else 127
            os.write(2, f"shutdown-probe init: cannot run '{command[0]}': {reason}\n".encode(
                errors="backslashreplace"))
            os._exit(code)
    except BaseException:  # never let the child fall back into the init's loop
        os._exit(127)
    os._exit(127)  # not reached


def _status_code(status):
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def _reap(child):
    """Reap every exited child; the main child's exit code, or None if it still runs."""
    result = None
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return result
        if pid == 0:
            return result
        if pid == child:
            result = _status_code(status)


def main(argv):
    group, command = _parse(argv)
    # SIGCHLD set to SIG_IGN (inherited) would make the kernel reap children itself.
    if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
    child = os.fork()
    if child == 0:
        _child(command, old_mask)
    # Also from this side, so a --group forward cannot race the child's setpgid.
    try:
        os.setpgid(child, child)
    except OSError:
        pass
    while True:
        info = signal.sigtimedwait(HANDLED, _REAP_PERIOD)
        if info is not None and info.si_signo != signal.SIGCHLD:
            try:
                if group:
                    os.killpg(child, info.si_signo)
                else:
                    os.kill(child, info.si_signo)
            except ProcessLookupError:
                pass
            continue
        code = _reap(child)
        if code is not None:
            return code


if __name__ == "__main__":
    code = main(sys.argv[1:])
    os._exit(code)  # nothing is buffered: skip the interpreter's teardown
