"""Hostile targets: apps that make ending them, and watching them end, hard.

Usage: hostile.py WORKDIR MODE [ARGS...]

WORKDIR comes first, as for every target in this folder, so ``{workdir}`` scenarios
(and tests/test_runner.py's ``scenario()`` helper) run it unchanged. Every mode:

* writes WORKDIR/pids, one line "ROLE PID PGID SID" per process it started (the
  root's line first), only once all of them are in place;
* then creates WORKDIR/ready (the ready check: ``ready = {file = "{workdir}/ready"}``);
* prints "[pid N] hostile MODE ready" to stdout just before (unless stdout is gone).

"Default" signals below means SIG_DFL for SIGHUP, SIGINT, SIGQUIT and SIGTERM (so
SIGINT kills, no KeyboardInterrupt): a process with them dies by the signal itself.
Stop signals are SIGHUP, SIGINT and SIGTERM.

Modes:

ignore-all
    SIG_IGN for every catchable signal except SIGCHLD, then blocks forever. Only
    SIGKILL ends it: every other stop path is "hung".
daemon
    The classic daemon: fork, setsid() in the child (a new session and process
    group), fork again; the grandchild (role "daemon") points stdin/out/err at
    /dev/null and blocks forever. The middle process exits at once and the root
    reaps it. The root has default signals. A group signal misses the daemon.
exec-daemon [stop] [quiet] [meet SOCKET]
    The daemon of issue 18: fork, setsid() in the child, fork again; the grandchild
    (role "daemon") calls execve("/bin/sleep", ["sleep", "1000"], {}): an empty
    environment, so it carries no case tag; the middle process exits at once and the
    root reaps it. Before ready by default; with "stop", in the root's stop signal
    handler, which then exits 0. With "quiet" the daemon first points stdin, stdout and
    stderr at /dev/null (nothing of the case's is left open in it). Once the daemon
    has exec'd (its CLOEXEC pipe reached end of file), its line is written: to
    WORKDIR/pids with the others, or with "stop" to WORKDIR/stop-pids ("daemon PID
    PGID SID"), before the root exits. The root has default signals otherwise. With
    "meet SOCKET" the root first connects to the Unix socket SOCKET and waits for one
    byte from it (a test's barrier: it answers once every case's root is connected).
fork-many N [respawn]
    The root (default signals) forks N children (default signals) that block
    forever. With "respawn", each child's stop signal handler forks one replacement
    (default signals, blocks forever) and exits 0: the replacements are born after
    the signal, so a group signal can never reach them; their pids are not in the
    pids file.
close-output
    Prints one line, closes fds 1 and 2, blocks. Its stop signal handler writes
    WORKDIR/cleanup-ran, print()s a line (sys.stdout is block-buffered here, whatever
    PYTHONUNBUFFERED says) and calls sys.exit(0): CPython fails to flush stdout at
    exit (EBADF) and so exits with status 120.
flood MB_BEFORE MB_AFTER [lines|empty|raw|utf8]
    Writes MB_BEFORE megabytes to stdout and the same to stderr at once (one thread
    each) before it is ready; its stop signal handler writes MB_AFTER megabytes to
    both the same way, then the line "FLOOD DONE STREAM BYTES" on each stream
    (BYTES: flood bytes written to that stream, both phases) and exits 0. MB_AFTER
    "forever" floods until killed (it is then "hung"). "lines": 100-byte lines (the
    default); "empty": nothing but newlines (a million lines per MB); "raw": ASCII
    without any newline; "utf8": the 3-byte character U+20AC
    repeated, without any newline (each phase rounded down to whole characters).
no-newline MB_BEFORE MB_AFTER [raw|utf8]
    flood without newlines ("raw" by default).
bad-utf8 [argv]
    Writes the lines of BAD_LINES (invalid UTF-8, an encoded surrogate, NUL, ANSI
    and OSC escapes, a lone CR, markup and HTML) to stdout and stderr, ready. The
    stop signal handler writes b"BYE \\xff\\xfe" + b" no newline" (no newline) to
    stdout and exits 0. With "argv" it first starts a child (role "child", default
    signals) whose argv holds invalid UTF-8 (ARGV_BYTES); the handler SIGTERMs it
    and waits for it before saying BYE.
own-pgid
    The root (default signals) forks "stayer" (stays in the root's group) and
    "escaper", which calls setpgid(0, 0): a new group in the same session. Both have
    default signals and block forever. A group signal reaches root and stayer only.
    (The root itself cannot leave its group: the harness starts it as a session
    leader, and setpgid/setsid on a session leader fail with EPERM.)
names
    Registers one atexit callable per HOSTILE_NAMES, each with that ``__qualname__``
    (rich markup, an OSC 8 hyperlink, a colour code, a lone surrogate, a newline
    followed by a verdict-like line, a right-to-left override: text a report must
    show as text, on its line), in that order; the probe names its hooks after them. Its stop
    signal handler calls sys.exit(0), so they all run (in reverse order); SIGKILL
    runs none.
exit-255 [now]
    Default signals but a stop signal handler that calls sys.exit(255). With "now"
    it exits 255 at once, before it is ready.
sigstop [child]
    The root, default signals, stops itself with SIGSTOP. It blocks the stop
    signals before it creates WORKDIR/ready and SIGSTOPs, so none can land in
    between; they stay pending while it is stopped (as a stopped process keeps
    even a default-fatal signal pending), and a SIGCONT makes it unblock them
    and die by the first. With "child": the root (default signals) forks a child
    (default signals) that SIGSTOPs itself; the root waits until the kernel reports
    the child stopped (waitpid WUNTRACED), then is ready.
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import subprocess
import sys
import threading

STOP_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
DEFAULT_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)

# bad-utf8: what it writes, each with a newline, to stdout and to stderr.
BAD_LINES = (
    b"invalid \xff\xfe bytes",
    b"truncated \xe2\x82 euro",
    b"encoded surrogate \xed\xa0\x80 here",
    b"beyond U+10FFFF \xf4\x90\x80\x80 here",
    b"overlong slash \xc0\xaf here",
    b"nul \x00 byte",
    b"ansi \x1b[31mred\x1b[0m \x1b[2J\x1b[H clear",
    b"osc \x1b]0;window title\x07 bell",
    b"lone cr\rover",
    b"markup [bold]x[/] [/] [link=file:///etc/passwd]y[/link]",
    b"html </pre><script>alert(1)</script> & ``` | a | b |",
)
BYE = b"BYE \xff\xfe no newline"
# names: the qualified names of its atexit callables.
HOSTILE_NAMES = ("[/]", "[link=https://example.invalid]x[/link]", "\x1b]8;;http://x\x07evil\x1b]8;;\x07",
                 "\x1b[31mred", "\udcff", "x\nsigterm: the 5 runs agree", "order b \u202ea \u2192 c")
ARGV_BYTES = b"arg-\xff\xfe-\xed\xa0\x80"

MB = 1024 * 1024


def set_default_signals() -> None:
    for sig in DEFAULT_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def block_forever() -> None:
    while True:
        signal.pause()


def fork(child) -> int:
    """Fork; the child runs ``child()`` and never returns into the caller's code."""
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            child()
        except BaseException:  # noqa: BLE001 - report, but never fall through
            import traceback
            traceback.print_exc()
            status = 70
        os._exit(status)
    return pid


def announce(fd: int, *extra: str) -> None:
    """Tell the root (through a pipe) that this process is in place."""
    os.write(fd, (" ".join([str(os.getpid()), *extra]) + "\n").encode())


def read_announcements(fd: int, n: int) -> list[list[str]]:
    out, buf = [], b""
    while len(out) < n:
        chunk = os.read(fd, 65536)
        if not chunk:
            sys.exit(f"only {len(out)} of {n} processes announced themselves")
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out += [line.decode().split() for line in lines]
    return out


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def ready(workdir: str, mode: str, procs: list[tuple[str, int]], *, say: bool = True) -> None:
    """Write the pids file, print the ready line, create the ready file."""
    lines = [f"root {os.getpid()} {os.getpgid(0)} {os.getsid(0)}"]
    for role, pid in procs:
        try:
            lines.append(f"{role} {pid} {os.getpgid(pid)} {os.getsid(pid)}")
        except ProcessLookupError:
            lines.append(f"{role} {pid} - -")
    tmp = os.path.join(workdir, "pids.tmp")
    with open(tmp, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    os.replace(tmp, os.path.join(workdir, "pids"))
    if say:
        print(f"[pid {os.getpid()}] hostile {mode} ready", flush=True)
    open(os.path.join(workdir, "ready"), "w").close()


def on_stop(handler) -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, handler)


# ------------------------------------------------------------------ modes


def ignore_all(workdir: str) -> None:
    keep = {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD}
    for sig in signal.valid_signals():
        if sig not in keep:
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):  # numbers the C library keeps for itself
                pass
    ready(workdir, "ignore-all", [])
    block_forever()


def daemon(workdir: str) -> None:
    set_default_signals()
    r, w = os.pipe()

    def middle() -> None:
        os.setsid()

        def the_daemon() -> None:
            os.close(r)
            announce(w)
            os.close(w)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.chdir("/")
            block_forever()

        fork(the_daemon)

    mid = fork(middle)
    os.close(w)
    os.waitpid(mid, 0)
    [[pid]] = read_announcements(r, 1)
    ready(workdir, "daemon", [("daemon", int(pid))])
    block_forever()


def exec_daemon(workdir: str, *variants: str) -> None:
    set_default_signals()
    if "meet" in variants:
        import socket

        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(variants[variants.index("meet") + 1])
            if not sock.recv(1):
                sys.exit("the barrier closed without a word")

    def start() -> tuple[int, int, int]:
        """The daemon's (pid, pgid, sid), once it runs /bin/sleep."""
        r, w = os.pipe()  # CLOEXEC: its end of file says the daemon has exec'd

        def middle() -> None:
            os.setsid()

            def the_daemon() -> None:
                os.close(r)
                if "quiet" in variants:
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                announce(w)
                os.execve("/bin/sleep", ["sleep", "1000"], {})

            fork(the_daemon)

        mid = fork(middle)
        os.close(w)
        os.waitpid(mid, 0)
        data = b""
        while chunk := os.read(r, 4096):
            data += chunk
        os.close(r)
        pid = int(data.split()[0])
        return pid, os.getpgid(pid), os.getsid(pid)

    if "stop" in variants:
        def stop(signum, frame):
            pid, pgid, sid = start()
            tmp = os.path.join(workdir, "stop-pids.tmp")
            with open(tmp, "w") as fh:
                fh.write(f"daemon {pid} {pgid} {sid}\n")
            os.replace(tmp, os.path.join(workdir, "stop-pids"))
            os._exit(0)

        on_stop(stop)
        ready(workdir, "exec-daemon stop", [])
    else:
        pid, _, _ = start()
        ready(workdir, "exec-daemon", [("daemon", pid)])
    block_forever()


def fork_many(workdir: str, n: str, variant: str = "") -> None:
    set_default_signals()
    count, respawn = int(n), variant == "respawn"
    r, w = os.pipe()

    def child() -> None:
        os.close(r)
        if respawn:
            def replace(signum, frame):
                fork(lambda: (set_default_signals(), block_forever()))
                os._exit(0)
            on_stop(replace)
        announce(w)
        block_forever()

    for _ in range(count):
        fork(child)
    os.close(w)
    pids = [int(a[0]) for a in read_announcements(r, count)]
    ready(workdir, f"fork-many {n} {variant}".strip(), [("child", pid) for pid in pids])
    block_forever()


def close_output(workdir: str) -> None:
    # Block-buffered whatever PYTHONUNBUFFERED says, so the print() below waits for
    # the flush at exit, which then fails (EBADF): CPython exits with 120.
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), write_through=False)

    def stop(signum, frame):
        with open(os.path.join(workdir, "cleanup-ran"), "w") as fh:
            fh.write(f"signal {signum}\n")
        print("this line is buffered, and stdout is closed")
        sys.exit(0)

    on_stop(stop)
    print(f"[pid {os.getpid()}] closing stdout and stderr", flush=True)
    os.close(1)
    os.close(2)
    ready(workdir, "close-output", [], say=False)
    block_forever()


def flood(workdir: str, before: str, after: str, kind: str = "lines") -> None:
    unit = {"lines": b"x" * 99 + b"\n", "empty": b"\n" * 100, "raw": b"y" * 100, "utf8": "\u20ac".encode() * 33}[kind]
    chunk = unit * (MB // len(unit))
    written = {1: 0, 2: 0}

    def stream(fd: int, nbytes: float) -> None:
        left = nbytes
        if kind == "utf8" and left != float("inf"):
            left -= left % 3  # whole characters only
        while left > 0:
            part = chunk[:int(min(left, len(chunk)))]
            write_all(fd, part)
            written[fd] += len(part)
            left -= len(part)

    def both(mb: float) -> None:
        threads = [threading.Thread(target=stream, args=(fd, mb * MB)) for fd in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def stop(signum, frame):
        on_stop(signal.SIG_IGN)  # one stop is enough
        both(float("inf") if after == "forever" else float(after))
        for fd, name in ((1, "stdout"), (2, "stderr")):
            write_all(fd, f"\nFLOOD DONE {name} {written[fd]}\n".encode())
        sys.exit(0)

    on_stop(stop)
    both(float(before))
    ready(workdir, "flood", [])
    block_forever()


def bad_utf8(workdir: str, variant: str = "") -> None:
    child = None
    if variant == "argv":
        r, w = os.pipe()
        child = subprocess.Popen([sys.executable, os.fsencode(__file__), workdir, "child-argv", ARGV_BYTES, str(w)],
                                 pass_fds=[w])
        os.close(w)
        read_announcements(r, 1)  # after its exec: /proc shows the bytes from now on
        os.close(r)

    def stop(signum, frame):
        if child is not None:
            child.terminate()
            child.wait()
        write_all(1, BYE)
        sys.exit(0)

    on_stop(stop)
    for line in BAD_LINES:
        write_all(1, line + b"\n")
        write_all(2, line + b"\n")
    ready(workdir, "bad-utf8", [("child", child.pid)] if child else [])
    block_forever()


def child_argv(workdir: str, _argv_bytes: str, fd: str) -> None:
    set_default_signals()
    announce(int(fd))
    os.close(int(fd))
    block_forever()


def own_pgid(workdir: str) -> None:
    set_default_signals()
    r, w = os.pipe()

    def member(escape: bool) -> None:
        os.close(r)
        if escape:
            os.setpgid(0, 0)
        announce(w, "escaper" if escape else "stayer")
        block_forever()

    for escape in (False, True):
        fork(lambda escape=escape: member(escape))
    os.close(w)
    found = read_announcements(r, 2)
    ready(workdir, "own-pgid", [(role, int(pid)) for pid, role in sorted(found, key=lambda a: a[1], reverse=True)])
    block_forever()


def names(workdir: str) -> None:
    for name in HOSTILE_NAMES:
        def hook() -> None:
            pass

        hook.__qualname__ = name
        atexit.register(hook)
    on_stop(lambda signum, frame: sys.exit(0))
    ready(workdir, "names", [])
    block_forever()


def exit_255(workdir: str, when: str = "") -> None:
    if when == "now":
        print(f"[pid {os.getpid()}] exiting 255 before ready", flush=True)
        sys.exit(255)
    set_default_signals()
    on_stop(lambda signum, frame: sys.exit(255))
    ready(workdir, "exit-255", [])
    block_forever()


def sigstop(workdir: str, variant: str = "") -> None:
    set_default_signals()
    if variant == "child":
        def child() -> None:
            os.kill(os.getpid(), signal.SIGSTOP)
            block_forever()  # continued without a fatal signal: keep going

        pid = fork(child)
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            sys.exit(f"the child did not stop: status {status}")
        ready(workdir, "sigstop child", [("child", pid)])
        block_forever()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    ready(workdir, "sigstop", [])
    os.kill(os.getpid(), signal.SIGSTOP)
    # Continued: the pending stop signal (default action) ends the process here.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    block_forever()


MODES = {
    "ignore-all": ignore_all,
    "daemon": daemon,
    "exec-daemon": exec_daemon,
    "fork-many": fork_many,
    "close-output": close_output,
    "flood": flood,
    "no-newline": lambda workdir, before, after, kind="raw": flood(workdir, before, after, kind),
    "bad-utf8": bad_utf8,
    "child-argv": child_argv,
    "own-pgid": own_pgid,
    "names": names,
    "exit-255": exit_255,
    "sigstop": sigstop,
}

if __name__ == "__main__":
    MODES[sys.argv[2]](sys.argv[1], *sys.argv[3:])
