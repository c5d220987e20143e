"""The harness's direct reads of /proc and sock_diag, against what really exists.

Each expected value comes from the test itself: the pids of the processes it started,
the ports of the sockets it opened. The slow, machine-wide views (psutil's process
table, the text socket tables) are the reference the fast reads must agree with.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from shutdown_probe import procnet

# A chain: this test -> a child -> a grandchild. Each level reports its pid on the
# pipe once it has started the next one, and then waits for stdin to close.
CHAIN = r"""
import os, subprocess, sys
depth = int(sys.argv[1])
if depth:
    sub = subprocess.Popen([sys.executable, "-c", sys.argv[2], str(depth - 1), sys.argv[2]],
                           stdin=subprocess.PIPE, stdout=sys.stdout)
print(os.getpid(), flush=True)
sys.stdin.read()
if depth:
    sub.stdin.close()
    sub.wait()
"""


@pytest.fixture
def chain():
    """A child and a grandchild of this process: (child pid, grandchild pid)."""
    proc = subprocess.Popen([sys.executable, "-c", CHAIN, "1", CHAIN], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        pids = {int(proc.stdout.readline()), int(proc.stdout.readline())}
        assert proc.pid in pids
        grandchild = (pids - {proc.pid}).pop()
        yield proc.pid, grandchild
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.fixture(params=["children-files", "psutil-scan"])
def child_lister(request, monkeypatch):
    """Both ways of listing children: the kernel's per-thread files and psutil's scan."""
    if request.param == "children-files" and not procnet.CHILDREN_FILES:
        pytest.skip("this kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
    monkeypatch.setattr(procnet, "CHILDREN_FILES", request.param == "children-files")
    return request.param


def test_children_and_descendants(chain, child_lister):
    child, grandchild = chain
    assert child in procnet.child_pids(os.getpid())
    assert grandchild not in procnet.child_pids(os.getpid())
    assert procnet.child_pids(child) == [grandchild]
    assert procnet.descendant_pids([child]) == [grandchild]
    assert procnet.descendant_pids([grandchild]) == []


def test_a_child_forked_by_another_thread_is_listed(child_lister):
    """A child hangs off the thread that forked it: every thread's list counts."""
    box = {}

    def start():
        box["proc"] = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                       stdin=subprocess.PIPE)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    proc = box["proc"]
    try:
        assert proc.pid in procnet.child_pids(os.getpid())
        assert proc.pid in [p.pid for p in psutil.Process().children()]  # the reference agrees
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_a_gone_process_has_no_children():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert procnet.child_pids(proc.pid) == []


@pytest.fixture(params=["sock_diag", "proc-tables"])
def socket_reader(request, monkeypatch):
    """Both ways of reading the socket table: netlink sock_diag and /proc/net/tcp."""
    if request.param == "sock_diag":
        try:
            procnet._diag_rows(1 << procnet._TCP_LISTEN)
        except OSError as exc:
            pytest.skip(f"sock_diag unavailable here: {exc}")
        monkeypatch.setattr(procnet, "_diag_broken", None)
    else:
        monkeypatch.setattr(procnet, "_diag_broken", "forced off by the test")
    return request.param


def test_server_sockets_and_listening(socket_reader):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        try:
            client.sendall(b"12345")
            rows = procnet.server_sockets(port)
            states = sorted((r.state, r.remote_port) for r in rows)
            assert states == [("01", client.getsockname()[1]), ("0A", 0)]
            conn = next(r for r in rows if r.state == "01")
            assert conn.inode in procnet.socket_inodes(os.getpid())
            # five bytes sent and not read yet; the kernel may take a moment to queue them
            deadline = time.monotonic() + 5
            while conn.rx_queue != 5 and time.monotonic() < deadline:
                conn = next(r for r in procnet.server_sockets(port) if r.state == "01")
            assert conn.rx_queue == 5
            assert procnet.listening(port)
        finally:
            client.close()
            accepted.close()
    assert not procnet.listening(port)


def test_sock_diag_agrees_with_the_text_tables():
    try:
        fast = procnet._diag_rows(procnet._ALL_STATES)
    except OSError as exc:
        pytest.skip(f"sock_diag unavailable here: {exc}")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            with accepted:
                mine = {port, accepted.getpeername()[1]}
                fast = {r for r in procnet._diag_rows(procnet._ALL_STATES) if r[0] in mine}
                slow = {r for r in procnet._proc_rows() if r[0] in mine}
    assert len(fast) == 3  # the listener and both ends of the connection
    assert fast == slow


def test_listening_ports_per_process(socket_reader):
    """A listening socket inherited by a child counts for both (the Werkzeug reloader's case)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        fd = server.fileno()
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE, pass_fds=[fd])
        other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE)
        try:
            got = procnet.listening_ports([os.getpid(), child.pid, other.pid])
            assert got[os.getpid()] == [port]
            assert got[child.pid] == [port]
            assert got[other.pid] == []
        finally:
            for p in (child, other):
                p.stdin.close()
                p.wait(timeout=10)
    assert procnet.listening_ports([999_999_999]) == {999_999_999: []}


def test_listening_ports_reads_no_socket_table_for_processes_without_sockets(monkeypatch):
    """Most apps with no port hold no socket: their lookup costs a /proc/PID/fd listing only."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             close_fds=True)
    try:
        def no_table(**_: object) -> list[procnet.Row]:
            raise AssertionError("the socket table was read for a process that holds no socket")

        monkeypatch.setattr(procnet, "_rows", no_table)
        monkeypatch.setattr(procnet, "_proc_rows", no_table)
        assert procnet.listening_ports([child.pid]) == {child.pid: []}
    finally:
        child.stdin.close()
        child.wait(timeout=10)
