"""The harness's watchdog: when the harness dies, by SIGKILL or otherwise, kill what it started.

    python -I -S _watchdog.py RUN_ID

The harness starts one watchdog, in a session of its own (a signal to the harness's
process group does not reach it), and keeps the write end of its stdin. It writes
the PID of every process of a case as it finds it, one per line. The harness's end of
the pipe closes when the harness exits, however it exits: the kernel closes the
descriptors of a SIGKILLed process too. At end of file, the watchdog sweeps:

* every process whose case tag (``SHUTDOWN_PROBE_CASE=SESSION/RUN_ID/CASE``) names
  this harness;
* every process the harness reported, when its start time still matches (a reused
  PID is someone else's), and every process in the session of one of them (the
  target's root leads a session of its own; its children stay in it unless they make
  their own);
* every descendant of any of these;

with SIGSTOP and then SIGKILL (see :meth:`Watch.sweep`), each through a pidfd opened
and checked before the signal, so a PID reused in between is never hit. It sweeps
until nothing has matched for QUIET seconds (a process between fork and exec, whose
environment is still its parent's, is found on a later pass), at most BUDGET
seconds, and exits.

When the harness exits normally, every case has already been cleaned up: the sweep
finds nothing, and the watchdog is gone QUIET seconds later. SIGTERM makes it sweep
at once (a stopper that ends every process of a unit stops the cases too); SIGINT
and SIGHUP are ignored, as they are meant for the harness.

Stdlib only, run with ``-I -S``: nothing of the target's environment loads in here.
"""

import os
import select
import signal
import sys
import time

QUIET = 0.25
BUDGET = 10.0
RESCAN = 0.02


class _Terminated(Exception):
    pass


def _on_term(signum, frame):
    raise _Terminated()


def _stat(pid):
    """(ppid, session id, start time in ticks, state) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()  # after "(comm)", which may hold spaces
    try:
        return int(fields[1]), int(fields[3]), int(fields[19]), fields[0]
    except (IndexError, ValueError):
        return None


def _tagged(pid, needle):
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            env = fh.read()
    except OSError:
        return False
    for item in env.split(b"\0"):
        if item.startswith(b"SHUTDOWN_PROBE_CASE=") and needle in item:
            return True
    return False


class Watch:
    def __init__(self, run_id):
        self.needle = f"/{run_id}/".encode()
        self.known = {}  # pid -> start ticks, as the harness reported them
        self.sessions = set()
        # never the watchdog's own session, nor init's, nor the harness's
        self.spared = {0, 1, os.getsid(0), os.getsid(os.getppid())}
        self.killed = 0

    def report(self, pid):
        st = _stat(pid)
        if st is None:
            return
        self.known[pid] = st[2]
        # Only a session a case process made: its leader is a reported process. A
        # process a caller started in its own session (as a test may) must not turn
        # the caller's whole session into a target.
        if st[1] in self.known and st[1] not in self.spared:
            self.sessions.add(st[1])

    def doomed(self):
        me = os.getpid()
        table = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat(int(name))
                if st is not None and st[3] not in (b"Z", b"X"):  # the dead need no signal
                    table[int(name)] = st
        hit = {pid for pid, (ppid, sid, start, state) in table.items()
               if self.known.get(pid) == start or sid in self.sessions or _tagged(pid, self.needle)}
        children = {}
        for pid, (ppid, *_rest) in table.items():
            children.setdefault(ppid, []).append(pid)
        stack = list(hit)
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in hit:
                    hit.add(child)
                    stack.append(child)
        hit.discard(me)
        hit.discard(1)
        return {pid: table[pid][2] for pid in hit}

    def send(self, pid, start, sig):
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return False  # gone already
        try:
            st = _stat(pid)
            if st is None or st[2] != start:
                return False  # no longer the process we judged
            signal.pidfd_send_signal(fd, sig)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def wait_stopped(self, pids, end):
        """Until each of ``pids`` has stopped or ended: a SIGSTOP takes effect when the
        process next leaves the kernel, so a fork it is in the middle of completes
        first, and the look for its children must come after that."""
        pending = dict(pids)
        while pending and time.monotonic() < end:
            for pid, start in list(pending.items()):
                st = _stat(pid)
                if st is None or st[2] != start or st[3] in (b"T", b"t", b"Z", b"X"):
                    del pending[pid]
            if pending:
                select.select([], [], [], 0.001)

    def sweep(self):
        """Freeze, then kill, until nothing has matched for QUIET seconds.

        Killing at once would race a fork: a parent killed just after forking leaves
        a child that init adopts, and a child that also drops the tag and leaves the
        session would then match nothing. Stopped processes cannot fork, and their
        children still name them as parent: so SIGSTOP every match, wait until it has
        stopped, look again (the children of the stopped are matches too), and only
        when a look finds no one new, SIGKILL them all.
        """
        end = time.monotonic() + BUDGET
        quiet_since = None
        while time.monotonic() < end:
            frozen = {}
            while time.monotonic() < end:
                fresh = {pid: start for pid, start in self.doomed().items() if pid not in frozen}
                if not fresh:
                    break
                for pid, start in fresh.items():
                    self.send(pid, start, signal.SIGSTOP)
                frozen.update(fresh)
                self.wait_stopped(fresh, end)
            for pid, start in frozen.items():
                self.killed += self.send(pid, start, signal.SIGKILL)
            now = time.monotonic()
            if frozen:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET:
                return
            select.select([], [], [], RESCAN)


# Its name in /proc/PID/comm (15 bytes at most), which a zombie keeps: a harness that
# adopts the watchdog of a harness it started (a subreaper adopts its descendants'
# orphans) knows by it that this zombie is its to reap.
NAME = b"sp-watchdog"


def _set_name():
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(NAME), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def main():
    _set_name()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_term)
    watch = Watch(sys.argv[1])
    pending = b""
    try:
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip().isdigit():
                    watch.report(int(line))
    except _Terminated:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the sweep runs to its end
    watch.sweep()
    if watch.killed:
        sys.stderr.write(f"shutdown-probe watchdog: the harness ended with {watch.killed} process(es) "
                         "of its cases still running; killed them\n")


if __name__ == "__main__":
    main()
