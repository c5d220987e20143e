"""Port leases: a TCP port on 127.0.0.1 that no other case on this machine holds.

Binding port 0 and closing the socket finds a free port, but two harnesses (pytest-xdist
workers, two CLI runs, two users' CI jobs) can be handed the same one before either app
binds it. So a port is leased: the harness binds the unix socket address
``\\0shutdown-probe-port-<port>`` for as long as the case runs, and skips a port whose
address another process already holds.

Why a socket in the abstract namespace and not a lock file:

* No file is created, opened or followed. A lease folder under the shared temp folder
  can be made first by another user and filled with symlinks (a root harness would
  then create files wherever they point), and a folder made by the harness gets the
  umask's mode, which locks every other user out.
* Every user sees the same addresses, with no permission to set or trust: a root
  harness and a CI user's harness never get the same port. Binding an address another
  process holds fails with EADDRINUSE whoever owns it.
* The kernel drops the address when the last descriptor closes, SIGKILL included, so
  a stale lease cannot exist.
* Its scope is the TCP port's: both belong to the network namespace. Harnesses in
  different network namespaces share neither, and need not.

What it cannot do: a lease binds only harnesses that take leases. Another program may
still bind the port first (the app's own bind then fails and the case says so), and
another user may hold the addresses of many ports on purpose; the harness then skips
them and, after :data:`TRIES` taken ports in a row, says it found none.
"""

from __future__ import annotations

import errno
import socket

from .errors import HarnessError

ADDRESS_PREFIX = "shutdown-probe-port-"
# Ports the kernel offers in a row that may all be leased already before giving up:
# with a few harnesses on the machine, two in a row are rare.
TRIES = 50


def lease_address(port: int) -> bytes:
    """The abstract unix socket address that leases ``port`` (NUL first: no file)."""
    return b"\0" + f"{ADDRESS_PREFIX}{port}".encode()


class PortLease:
    """A TCP port on 127.0.0.1 held for one case until :meth:`release`."""

    def __init__(self, port: int, sock: socket.socket | None) -> None:
        self.port = port
        self._sock = sock

    @property
    def held(self) -> bool:
        return self._sock is not None

    def release(self) -> None:
        if self._sock is not None:
            self._sock.close()  # the address is free again for every process
            self._sock = None

    def __enter__(self) -> "PortLease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<PortLease {self.port} {'held' if self.held else 'released'}>"


def lease_port() -> PortLease:
    """Find a free port and lease it; raise :class:`HarnessError` if none can be had."""
    for _ in range(TRIES):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        except OSError as exc:  # a sandbox that forbids unix sockets
            raise HarnessError(f"cannot lease a TCP port: unix sockets are not available here "
                               f"({exc.strerror}), so parallel harnesses could be handed the same port") from None
        try:
            guard.bind(lease_address(port))
        except OSError as exc:
            guard.close()
            if exc.errno == errno.EADDRINUSE:
                continue  # another case holds it; its app may not have bound it yet
            raise HarnessError(f"cannot lease TCP port {port}: binding its lease address failed "
                               f"({exc.strerror})") from None
        return PortLease(port, guard)
    raise HarnessError(f"could not lease a free TCP port on 127.0.0.1: the kernel offered {TRIES} ports in "
                       "a row that other harnesses (or another user) held")
