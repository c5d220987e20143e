"""Run a command as PID 1 of a new PID namespace, as a container without an init does.

    python -I -S _pid1_launcher.py [--user] -- COMMAND [ARG...]

The harness starts this program; it is not part of the target. It makes a new PID
namespace and a new mount namespace (``--user`` adds a user namespace that maps the
caller to root, for machines where only unprivileged namespaces are allowed), forks,
and the child - PID 1 of the new namespace - mounts a fresh ``/proc`` and executes
COMMAND. The parent stays outside, waits for PID 1, and then ends exactly as PID 1
did: the same exit code, or death by the same signal, so the harness reads PID 1's
real status from its own child on any kernel.

Why not ``unshare --pid --fork --mount-proc`` (util-linux)? It does the same, but when
PID 1 dies by SIGKILL, unshare 2.38 prints "sigprocmask unblock failed" into the
target's stderr and exits 1, which would put a lie in the matrix for exactly the
case that matters (``docker stop`` killing a PID 1 that ignored SIGTERM).

Kernel rules this relies on (pid_namespaces(7)): signals reach PID 1 from the parent
namespace only if PID 1 has a handler for them, except SIGKILL and SIGSTOP; when
PID 1 dies, the kernel SIGKILLs every other process of the namespace. The child also
asks for SIGKILL when this launcher dies (PR_SET_PDEATHSIG), so a launcher killed by
a cleanup takes the whole namespace with it.

Stdlib only, run with ``-I -S``: the target's Python probe must not load in here.
Exit status 125 with one line on stderr when the namespace cannot be made.
"""

import ctypes
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
PR_SET_PDEATHSIG = 1
FAILED = 125
# Signals a terminal or a stopper may send to the whole process group: the launcher
# is in the target's group, and must outlive PID 1 to report how it ended.
SHRUG = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
         signal.SIGUSR2, signal.SIGPIPE, signal.SIGALRM)

_libc = ctypes.CDLL(None, use_errno=True)


def _fail(what):
    err = ctypes.get_errno()
    sys.stderr.write(f"shutdown-probe pid1: {what} failed: {os.strerror(err)}\n")
    sys.stderr.flush()
    os._exit(FAILED)


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def _unshare(user):
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWPID | CLONE_NEWNS | (CLONE_NEWUSER if user else 0)
    if _libc.unshare(flags) != 0:
        _fail("unshare(CLONE_NEWPID" + (" | CLONE_NEWUSER" if user else "") + ")")
    if user:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
        except OSError as exc:
            sys.stderr.write(f"shutdown-probe pid1: mapping the user namespace failed: {exc.strerror}\n")
            os._exit(FAILED)


def _become_pid1(argv):
    """In the child: PID 1 of the new namespace. Never returns."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        _fail("prctl(PR_SET_PDEATHSIG)")
    # Private mounts, so the new /proc does not show up outside the namespace.
    if _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        _fail("making / private")
    if _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        _fail("mounting /proc")
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"shutdown-probe pid1: cannot run {argv[0]!r}: {exc.strerror}\n")
        sys.stderr.flush()
        os._exit(126 if isinstance(exc, PermissionError) else 127)


def _end_like(status):
    """End this process as PID 1 ended: same exit code, or the same signal."""
    if os.WIFEXITED(status):
        os._exit(os.WEXITSTATUS(status))
    sig = os.WTERMSIG(status)
    # No core file from the launcher: the signal is PID 1's, not ours.
    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
    os.kill(os.getpid(), sig)
    os._exit(128 + sig)  # only if the signal did not end us (it should have)


def main(args):
    user = False
    while args and args[0] != "--":
        if args[0] == "--user":
            user = True
        elif args[0] == "--version":
            print("shutdown-probe pid1 launcher 1")
            return 0
        else:
            sys.stderr.write(f"shutdown-probe pid1: unknown option {args[0]!r}\n")
            return 2
        args = args[1:]
    argv = args[1:]
    if not argv:
        sys.stderr.write("usage: _pid1_launcher.py [--user] -- COMMAND [ARG...]\n")
        return 2
    _unshare(user)
    pid = os.fork()
    if pid == 0:
        _become_pid1(argv)
    for sig in SHRUG:
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:  # pragma: no cover - cannot happen: it is our child
            return FAILED
    _end_like(status)
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
