"""The harness's watchdog: when the harness dies, by SIGKILL or otherwise, kill what it started.

    python -I -S _watchdog.py RUN_ID [TEMPDIR]

The harness starts one watchdog, in a session of its own (a signal to the harness's
process group does not reach it), and keeps the write end of its stdin. On it, one
line each, it writes:

* ``PID``: a process of a case, as the harness finds it;
* ``cases N TICKS``: how many cases run now, and since when (the earliest one's
  launch, in clock ticks since boot: the clock of /proc's start times);
* ``dir DEV INO PATH`` / ``undir PATH``: a case's private folder was made (the device
  and inode it got) / was removed by the harness.

The harness's end of the pipe closes when the harness exits, however it exits: the
kernel closes the descriptors of a SIGKILLed process too. While cases run, the
watchdog also looks at the harness's children every POLL seconds: the harness is a
subreaper, so a process of a case that lost its parent (a double-forked daemon) is
re-parented to it, even one without the case's tag, and the harness may die before
it has looked. At end of file, the watchdog sweeps:

* every process whose case tag (``SHUTDOWN_PROBE_CASE=SESSION/RUN_ID/CASE``) names
  this harness;
* every process the harness reported, when its start time still matches (a reused
  PID is someone else's), and every process in the session of one of them (the
  target's root leads a session of its own; its children stay in it unless they make
  their own);
* every child of the harness it saw while cases ran, started while they ran and
  outside the harness's session (where no case process can be), start time checked;
* every descendant of any of these;

with SIGSTOP and then SIGKILL (see :meth:`Watch.sweep`), each through a pidfd opened
and checked before the signal, so a PID reused in between is never hit. It sweeps
until nothing has matched for QUIET seconds (a process between fork and exec, whose
environment is still its parent's, is found on a later pass), at most BUDGET
seconds, and exits.

Then it removes the case folders the harness told it of and did not remove itself
(see :func:`remove_folder`: only such a folder, right in TEMPDIR, the very directory
that was reported, never through a link).

When the harness exits normally, every case has already been cleaned up: the sweep
finds nothing, and the watchdog is gone QUIET seconds later. SIGTERM makes it sweep
at once (a stopper that ends every process of a unit stops the cases too); SIGINT
and SIGHUP are ignored, as they are meant for the harness.

Stdlib only, run with ``-I -S``: nothing of the target's environment loads in here.
"""

import os
import select
import signal
import stat
import sys
import time

QUIET = 0.25
BUDGET = 10.0
RESCAN = 0.02
POLL = 0.05
# What the harness names its case folders (tempfile.mkdtemp's prefix in pipeline.py).
FOLDER_PREFIX = "shutdown-probe-"


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


def _children(pid):
    """The direct children of ``pid``, from every thread's children file."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                out.extend(int(p) for p in fh.read().split())
        except (OSError, ValueError):
            continue
    return out


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm", "rb") as fh:
            return fh.read().rstrip(b"\n")
    except OSError:
        return b""


def _is_watchdog(pid):
    """Whether ``pid`` is a watchdog (of a harness the harness started): named so AND
    running this very script as ``python -I -S _watchdog.py``. The name alone is
    anyone's to take (prctl PR_SET_NAME), and would let a process opt out."""
    if _comm(pid) != NAME:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return False
    return argv[1:4] == [b"-I", b"-S", os.fsencode(os.path.abspath(__file__))]


def _boot_ticks():
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * os.sysconf("SC_CLK_TCK"))


class Watch:
    def __init__(self, run_id, tempdir=None, harness=None):
        self.needle = f"/{run_id}/".encode()
        self.known = {}  # pid -> start ticks, as the harness reported them
        self.sessions = set()
        self.harness = os.getppid() if harness is None else harness
        self.harness_session = os.getsid(self.harness)
        # never the watchdog's own session, nor init's, nor the harness's
        self.spared = {0, 1, os.getsid(0), self.harness_session}
        self.killed = 0
        self.cases = 0
        self.busy_since = None  # boot ticks when cases began to run (None: none runs)
        self.adopted = {}  # pid -> start ticks: the harness's children seen while cases ran
        self.tempdir = tempdir
        self.folders = {}  # path (bytes) -> (dev, ino)
        self.removed = 0

    def command(self, line):
        """One line from the harness."""
        word, _, rest = line.partition(b" ")
        if word.isdigit() and not rest:
            self.report(int(word))
        elif word == b"cases" and rest.replace(b" ", b"").isdigit():
            n, _, since = rest.partition(b" ")
            self.cases = int(n)
            if self.cases and self.busy_since is None:
                # when the first of them launched (this line may be read late)
                self.busy_since = int(since) if since else _boot_ticks()
            elif not self.cases:
                self.look()  # what came back to the harness as the last case ended
                self.busy_since = None
        elif word == b"dir":
            dev, ino, path = (rest.split(b" ", 2) + [b"", b""])[:3]
            if dev.isdigit() and ino.isdigit() and path:
                self.folders[path] = (int(dev), int(ino))
        elif word == b"undir":
            self.folders.pop(rest, None)

    def look(self):
        """Note the harness's children that a case may have left it (see the module)."""
        if self.busy_since is None:
            return
        for pid in _children(self.harness):
            if pid in self.known or pid in self.adopted:
                continue
            st = _stat(pid)
            if st is None or st[1] == self.harness_session or st[3] in (b"Z", b"X"):
                continue
            if st[2] + 1 < self.busy_since or _is_watchdog(pid):
                continue  # older than the cases, or a watchdog of a harness it started
            self.adopted[pid] = st[2]

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
               if self.known.get(pid) == start or self.adopted.get(pid) == start or sid in self.sessions
               or _tagged(pid, self.needle)}
        children: dict[int, list[int]] = {}
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

    def remove_folders(self):
        for path, (dev, ino) in self.folders.items():
            self.removed += remove_folder(path, dev, ino, self.tempdir)


def remove_folder(path, dev, ino, tempdir):
    """Remove a case folder the harness made and could not remove; True if removed.

    Nothing is removed unless the path looks exactly like one: absolute, normalised,
    right in ``tempdir`` and named like a case folder; and the directory there now is
    the one the harness made (same device and inode, a real directory, not a link,
    ours). The folder is removed through descriptors, never following a link inside
    it (shutil.rmtree's fd-based walk, opened from the temp folder's descriptor).
    """
    import shutil

    if tempdir is None or not shutil.rmtree.avoids_symlink_attacks:
        return False
    parent, name = os.path.split(path)
    if (not os.path.isabs(path) or os.path.normpath(path) != path or parent != os.fsencode(tempdir)
            or not name.startswith(FOLDER_PREFIX.encode()) or b"\0" in path):
        return False
    try:
        parent_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if (not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) != (dev, ino)
                or st.st_uid != os.geteuid()):
            return False
        _remove_tree(name, parent_fd)
        try:
            os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            return True
        return False
    except OSError:
        return False
    finally:
        os.close(parent_fd)


def _remove_tree(name, parent_fd):
    """Remove the folder ``name`` under the open folder ``parent_fd`` without following
    links: shutil.rmtree takes ``dir_fd`` from Python 3.11; before, os.fwalk's
    descriptor-relative walk does the same (it never follows a link either)."""
    import shutil

    if sys.version_info >= (3, 11):
        shutil.rmtree(name, dir_fd=parent_fd, ignore_errors=True)
        return
    try:
        for _top, dirs, files, fd in os.fwalk(name, topdown=False, dir_fd=parent_fd):
            for entry in files:
                os.unlink(entry, dir_fd=fd)
            for entry in dirs:
                try:
                    os.rmdir(entry, dir_fd=fd)
                except NotADirectoryError:  # a link to a folder is listed with the folders
                    os.unlink(entry, dir_fd=fd)
        os.rmdir(name, dir_fd=parent_fd)
    except OSError:
        pass


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
    watch = Watch(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    pending = b""
    try:
        while True:
            # While cases run, wake every POLL seconds to look at the harness's children.
            if watch.cases:
                readable, _, _ = select.select([0], [], [], POLL)
                watch.look()
                if not readable:
                    continue
            data = os.read(0, 65536)
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                watch.command(line.strip(b"\r"))
    except _Terminated:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the sweep runs to its end
    watch.sweep()
    watch.remove_folders()
    if watch.killed:
        sys.stderr.write(f"shutdown-probe watchdog: the harness ended with {watch.killed} process(es) "
                         "of its cases still running; killed them\n")
    if watch.removed:
        sys.stderr.write(f"shutdown-probe watchdog: removed {watch.removed} case folder(s) the harness left\n")


if __name__ == "__main__":
    main()
