"""Port leases (shutdown_probe/ports.py), with another user on the machine (issue 18, item 10).

The other user is real: a child forked from this test drops to uid and gid 65534
(nobody; the uid need not have a name) before it does anything, so the kernel treats
it as a different user, for files and for sockets alike. These tests need root.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import pytest

from tests.support import ROOT
from shutdown_probe.runner import lease_port  # where the runner takes its leases from

NOBODY = 65534

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")


@contextlib.contextmanager
def other_user(work):
    """Run ``work(send)`` in a child forked as uid/gid 65534 and yield ``receive()``,
    which returns the next object it sent. The child holds whatever it opened until
    the ``with`` block ends."""
    up_r, up_w = os.pipe()
    hold_r, hold_w = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns about fork() in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the other user
        code = 1
        try:
            os.close(up_r)
            os.close(hold_w)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = os.fdopen(up_w, "w")

            def send(obj) -> None:
                out.write(json.dumps(obj) + "\n")
                out.flush()

            work(send)
            os.read(hold_r, 1)  # until the test is done with it
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(up_w)
    os.close(hold_r)
    pending = bytearray()

    def receive():
        # Unbuffered, byte by byte after each select: a buffered readline could take two
        # lines at once and leave select waiting for one already read (seen 1 run in 6).
        while b"\n" not in pending:
            ready, _, _ = select.select([up_r], [], [], 60)
            assert ready, "the other user's process said nothing for 60 s"
            chunk = os.read(up_r, 4096)
            assert chunk, "the other user's process ended early (its traceback is in the captured stderr)"
            pending.extend(chunk)
        line, _, rest = bytes(pending).partition(b"\n")
        pending[:] = rest
        return json.loads(line)

    try:
        yield receive
    finally:
        os.close(hold_w)
        os.close(up_r)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the other user's process failed"


@pytest.fixture
def shared_tmp():
    """A temp folder like /tmp (mode 1777) that this test alone uses, so a harness run
    with TMPDIR pointing to it is the only one that looks there."""
    base = Path(tempfile.mkdtemp(prefix="shutdown-probe-test-ports-"))
    try:
        base.chmod(0o755)
        tmp = base / "tmp"
        tmp.mkdir()
        tmp.chmod(0o1777)
        yield base, tmp
    finally:
        shutil.rmtree(base)


def _taken(port: int) -> bool:
    """Whether some process holds the lease of ``port`` (from this process's view)."""
    import socket

    from shutdown_probe.ports import lease_address

    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.bind(lease_address(port))
        except OSError:
            return True
    return False


@needs_root
def test_a_lease_folder_another_user_filled_with_links_makes_no_file(shared_tmp):
    """The attack of the issue: another user makes the lease folder of an older harness
    first, with a link for every port the kernel may hand out, pointing into a folder only
    root may write. A root harness must not create a file through any of them."""
    base, tmp = shared_tmp
    victim = base / "root-only"
    victim.mkdir(mode=0o700)
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())

    def poison(send) -> None:
        folder = tmp / "shutdown-probe-ports"
        folder.mkdir(mode=0o777)
        for port in range(low, high + 1):
            os.symlink(victim / f"created-through-a-link-{port}", folder / str(port))
        send("ready")

    with other_user(poison) as receive:
        assert receive() == "ready"
        code = "from shutdown_probe.runner import lease_port; print(repr(lease_port()))"
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(tmp)}, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "held" in done.stdout, done.stdout
    assert list(victim.iterdir()) == []
    # nothing of root's anywhere under the shared folder either
    assert [p for p in tmp.rglob("*") if p.lstat().st_uid == 0] == []


@needs_root
def test_two_users_harnesses_both_hold_leases_and_never_share_a_port():
    mine = lease_port()
    try:
        held = []  # the other user's lease must outlive this function: the child holds
        # it until the test lets it go (a lease left to the garbage collector is dropped)

        def lease_as_other_user(send) -> None:
            theirs = lease_port()
            held.append(theirs)
            send({"port": theirs.port, "lease": repr(theirs)})
            send(_taken(mine.port))

        with other_user(lease_as_other_user) as receive:
            got = receive()
            # the other user's harness holds a real lease, not a port without one
            assert "held" in got["lease"], got
            assert got["port"] != mine.port
            # each user's lease is visible to the other
            assert receive() is True
            assert _taken(got["port"])
        assert not _taken(got["port"])  # its process ended: the kernel dropped the lease
    finally:
        mine.release()
    assert not _taken(mine.port)


@needs_root
def test_many_leases_of_two_users_at_once_are_all_different():
    def lease_many(send) -> None:
        held = [lease_port() for _ in range(200)]
        send([lease.port for lease in held])

    mine = [lease_port() for _ in range(200)]
    try:
        with other_user(lease_many) as receive:
            theirs = receive()
        ports = [lease.port for lease in mine] + theirs
        assert len(set(ports)) == len(ports) == 400
    finally:
        for lease in mine:
            lease.release()


def test_a_leased_port_is_held_for_every_process_until_released():
    lease = lease_port()
    try:
        assert _taken(lease.port)
        # the same process never gets it twice either (parallel cases of one run)
        others = [lease_port() for _ in range(20)]
        assert lease.port not in {o.port for o in others}
        for o in others:
            o.release()
    finally:
        lease.release()
    assert not _taken(lease.port)


def test_a_lease_dies_with_the_process_that_held_it():
    # A harness killed by SIGKILL cannot release anything; the kernel must.
    code = ("from shutdown_probe.ports import lease_port; import os, signal; "
            "print(lease_port().port, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == -9, done.stderr
    assert not _taken(int(done.stdout))


def test_leasing_touches_no_file(tmp_path):
    """No folder, no file: a harness whose temp folder is read-only still leases."""
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    code = "from shutdown_probe.ports import lease_port; l = lease_port(); print(l.held)"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TMPDIR": str(ro)},
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
    assert list(ro.iterdir()) == []
