"""Traffic during shutdown: requests in flight when the path fires, and new ones after.

Before the path fires, ``in_flight`` requests go to the scenario's slow URL and the
harness waits until the app has really taken each one. The client cannot tell that
(a connect succeeds as soon as the kernel queues the connection), so the harness reads
the server side in the kernel's socket table, ``/proc/net/tcp``: a connection still in
the listen backlog has no inode; once the app accepts it, it has one, held open by one
of the case's processes (found through ``/proc/PID/fd``); an empty receive queue says
the app has read the request. ``queued`` more requests may be left in the backlog.

Then the path fires and ``concurrency`` senders send new requests, ``interval`` apart,
for ``window`` seconds, at most ``max_new`` of them, and never after the case is over.
Meanwhile a monitor watches for the moment nothing listens on the port any more.

Requests go through ``requests`` (a fresh connection each, ``Connection: close``); a
connection class that reports its socket lets the harness match each request to its
row in the socket table, and abort it if the harness has to stop waiting.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from typing import Any, Callable, Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .procnet import LISTEN, listening, listening_ports, server_sockets, socket_holders
from .results import RequestKind, RequestOutcome, RequestRecord, TrafficRecord
from .scenario import TrafficPlan
from .waiting import Backoff, Flag

# ------------------------------------------------------------------ one request

# The request a thread is sending, for the connection class below to report to.
_current = threading.local()


class _TracedConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection that tells its request when it connected and when the
    whole request was written (just before waiting for the response)."""

    def connect(self) -> None:
        super().connect()
        req = getattr(_current, "request", None)
        if req is not None:
            req.on_connect(self.sock)

    # urllib3's own getresponse already returns its HTTPResponse where http.client's
    # returns http.client's: the override mypy reports is urllib3's, not this one
    def getresponse(self, *args: Any, **kwargs: Any) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        req = getattr(_current, "request", None)
        if req is not None:
            req.sent = True
        return super().getresponse(*args, **kwargs)


class _TracedPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _TracedConnection


class _TracedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme, "http": _TracedPool}


class Request:
    """One request, sent on its own connection, from the thread that calls :meth:`send`."""

    def __init__(self, n: int, kind: RequestKind, url: str, method: str, timeout: float) -> None:
        self.n, self.kind, self.url, self.method, self.timeout = n, kind, url, method, timeout
        self.started = time.monotonic()
        self.ended: float | None = None
        self.sock: socket.socket | None = None
        self.local_port: int | None = None
        self.sent = False
        self.outcome: RequestOutcome | None = None
        self.detail = ""
        self.status: int | None = None
        self.pid: int | None = None
        self.abandoned: str | None = None  # why the harness stopped waiting for it
        self.done = threading.Event()

    def on_connect(self, sock: socket.socket) -> None:
        self.sock = sock
        try:
            self.local_port = sock.getsockname()[1]
        except OSError:
            pass

    def send(self) -> None:
        _current.request = self
        try:
            with requests.Session() as session:
                session.trust_env = False  # the app is on loopback: no proxy from the environment
                session.mount("http://", _TracedAdapter(max_retries=0))
                resp = session.request(self.method, self.url, timeout=self.timeout, allow_redirects=False,
                                       headers={"Connection": "close"})
            self.status = resp.status_code
            self.outcome = "completed" if resp.status_code < 500 else "error-status"
            self.detail = f"{resp.status_code} {resp.reason}".strip()
        except Exception as exc:  # every failure is an observation, not an error
            self.outcome, self.detail = classify(exc, connected=self.sock is not None, sent=self.sent,
                                                 timeout=self.timeout)
        finally:
            _current.request = None
            self.ended = time.monotonic()
            # given up on by the harness, unless the whole answer came first
            if self.abandoned is not None and self.outcome not in ("completed", "error-status"):
                self.outcome, self.detail = "unfinished", self.abandoned
            self.done.set()

    def abort(self, why: str) -> None:
        """Give up on the request: it counts as unfinished, and its socket is shut so
        the sending thread returns at once."""
        if self.done.is_set():
            return
        self.abandoned = why
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def record(self, t0: float, roles: dict[int, str]) -> RequestRecord:
        return RequestRecord(
            n=self.n, kind=self.kind, outcome=self.outcome or "unfinished", detail=self.detail,
            status=self.status, sent_s=round(self.started - t0, 4),
            ended_s=round(self.ended - t0, 4) if self.ended is not None else None,
            pid=self.pid, role=roles.get(self.pid) if self.pid is not None else None)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3 reasons, args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen or len(seen) > 50:
            continue
        seen.add(id(e))
        yield e
        for inner in (e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())):
            if isinstance(inner, BaseException):
                todo.append(inner)


def classify(exc: BaseException, *, connected: bool, sent: bool,
             timeout: float) -> tuple[RequestOutcome, str]:
    """A failed request's outcome and a few words on why (see RequestRecord)."""
    chain = list(_causes(exc))

    def has(*types: type) -> bool:
        return any(isinstance(e, types) for e in chain)

    if has(ConnectionRefusedError):
        return "refused", "connection refused"
    if has(requests.exceptions.ConnectTimeout) or (not connected and has(TimeoutError, socket.timeout)):
        return "timed-out", f"no connection within {timeout:g} s"
    if has(requests.exceptions.ReadTimeout, TimeoutError, socket.timeout):
        return "timed-out", f"no response within {timeout:g} s"
    if has(requests.exceptions.ChunkedEncodingError, http.client.IncompleteRead, urllib3.exceptions.IncompleteRead):
        return "cut", "incomplete body"
    if has(ConnectionResetError):
        return "cut", "connection reset" + ("" if sent else " while sending the request")
    if has(http.client.RemoteDisconnected):
        return "cut", "closed without a response"
    if has(BrokenPipeError):
        return "cut", "broken pipe while sending the request"
    text = f"{type(exc).__name__}: {exc}"
    return ("cut" if connected else "failed"), text[:200]


# ------------------------------------------------------------------ traffic for one case


class Traffic:
    """The traffic of one case: prime, fire, then close (which always stops every thread).

    ``processes`` gives the case's live pids and their roles: only a socket one of
    them holds counts as taken by the app.
    """

    def __init__(self, plan: TrafficPlan, port: int, processes: Callable[[], dict[int, str]]) -> None:
        self.plan, self.port, self.processes = plan, port, processes
        self.requests: list[Request] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._over = threading.Event()  # the case is over: no new request starts
        self._halted = threading.Event()  # the harness is killing the app: stop everything
        self._wake = threading.Event()  # set with either, for the threads' waits
        self._cond = threading.Condition(self._lock)  # a request ended, or the case did
        self.t0: float | None = None
        self.released_at: float | None = None
        # the app's processes still listening on the port when the harness ended the case
        self.held_by: list[int] = []
        self.stopped_by = ""
        self.notes: list[str] = []
        self._roles: dict[int, str] = {}

    # -- before the path fires

    def _start(self, kind: RequestKind, url: str) -> Request:
        """Send one request from a thread of its own (the caller holds no lock)."""
        with self._lock:
            req = Request(len(self.requests) + 1, kind, url, self.plan.method, self.plan.timeout)
            self.requests.append(req)

        def run() -> None:
            try:
                req.send()
            finally:
                with self._cond:
                    self._cond.notify_all()  # a slot for a new request is free

        t = threading.Thread(target=run, name=f"shutdown-probe-traffic-{req.n}", daemon=True)
        self._threads.append(t)
        t.start()
        return req

    def prime(self, alive: Callable[[], bool], cancel: Flag | None = None) -> str | None:
        """Send the in-flight (then the queued) requests and wait until the app has
        taken them; None when it has, else what went wrong, in one sentence."""
        plan = self.plan
        deadline = time.monotonic() + plan.accept_timeout
        flight = [self._start("in-flight", plan.url) for _ in range(plan.in_flight)]
        problem = self._wait(flight, lambda st: st["taken"] >= plan.in_flight, deadline, alive, cancel)
        if problem is not None:
            return problem
        if plan.queued:
            queued = [self._start("queued", plan.url) for _ in range(plan.queued)]
            problem = self._wait(flight + queued, lambda st: st["sent"] >= len(flight) + len(queued),
                                 deadline, alive, cancel)
        return problem

    def _wait(self, reqs: list[Request], enough: Callable[[dict[str, int]], bool], deadline: float,
              alive: Callable[[], bool], cancel: Flag | None) -> str | None:
        backoff = Backoff(first=0.002, cap=0.05)
        while True:
            st = self._state(reqs)
            early = [r for r in reqs if r.done.is_set()]
            if early:
                r = early[0]
                took = (r.ended or r.started) - r.started
                if r.outcome in ("completed", "error-status"):
                    return (f"request #{r.n} to {r.url} was answered ({r.detail}) {took:.2f} s after it was sent, "
                            f"before the path could fire: the endpoint must take longer (a few seconds)")
                return f"request #{r.n} to {r.url} failed before the path fired: {r.outcome} ({r.detail})"
            if enough(st):
                return None
            if not alive():
                return "the app exited while the traffic was being set up"
            if time.monotonic() >= deadline:
                return (f"only {st['taken']} of {self.plan.in_flight} requests to {self.plan.url} were taken by the "
                        f"app within {self.plan.accept_timeout:g} s ({st['backlog']} waiting in the listen backlog, "
                        f"{len(reqs) - st['sent']} not yet sent); are all its workers busy? lower traffic.in_flight "
                        f"or raise traffic.accept_timeout")
            if cancel is not None:
                if cancel.wait(backoff.next()):
                    return "interrupted: the harness was asked to stop"
            else:
                self._wake.wait(backoff.next())

    def _state(self, reqs: list[Request]) -> dict[str, int]:
        """Match requests with the server side of their connections; count them."""
        by_port = {s.remote_port: s for s in server_sockets(self.port) if s.state != LISTEN}
        procs = self.processes()
        wanted = {by_port[r.local_port].inode for r in reqs
                  if r.local_port in by_port and by_port[r.local_port].inode}
        holders = socket_holders(list(procs), wanted)
        st = {"taken": 0, "backlog": 0, "sent": 0}
        for r in reqs:
            if not r.sent:
                continue
            st["sent"] += 1
            row = by_port.get(r.local_port) if r.local_port is not None else None
            if row is None:
                continue
            if row.inode == 0:
                st["backlog"] += 1
                r.pid = None
            elif row.inode in holders and row.rx_queue == 0:
                r.pid = holders[row.inode]
                st["taken"] += 1
        self._roles.update(procs)
        return st

    def holders(self) -> dict[int, list[int]]:
        """pid -> the numbers of the requests in flight whose server side it holds,
        read now from the kernel's socket table (the request's local port is the peer
        of an ESTABLISHED socket on the app's port; the process is the one that has
        that socket's inode open). Before the path fires."""
        flight = [r for r in self.requests if not r.done.is_set()]
        self._state(flight)
        out: dict[int, list[int]] = {}
        for r in flight:
            if r.pid is not None:
                out.setdefault(r.pid, []).append(r.n)
        return out

    # -- the path fires

    def fire(self, t0: float) -> None:
        """Label what is in flight as the path fires, then start the new requests and
        the port monitor."""
        self.t0 = t0
        self._state([r for r in self.requests if not r.done.is_set()])
        for r in self.requests:
            if r.kind == "queued" and r.pid is not None:
                r.kind = "in-flight"  # the app took it after all
        plan = self.plan
        if plan.new_url is not None and plan.concurrency and plan.max_new:
            t = threading.Thread(target=self._schedule, name="shutdown-probe-traffic-new", daemon=True)
            self._threads.append(t)
            t.start()
        t = threading.Thread(target=self._monitor, name="shutdown-probe-traffic-port", daemon=True)
        self._threads.append(t)
        t.start()

    def _schedule(self) -> None:
        """Start a new request every ``interval`` seconds, each on its own thread, so a
        request the app holds does not delay the next; at most ``concurrency`` new
        requests wait at once (then the next one waits for a free slot)."""
        plan = self.plan
        new_url = plan.new_url
        assert self.t0 is not None and new_url is not None
        end = self.t0 + plan.window
        due = self.t0
        sent = 0
        while True:
            with self._cond:
                while True:
                    if self._halted.is_set():
                        return self._why("the harness ended the case")
                    if self._over.is_set():
                        return self._why("case ended")
                    now = time.monotonic()
                    if now >= end:
                        return self._why("window")
                    if sent >= plan.max_new:
                        return self._why("cap")
                    new_out = sum(1 for r in self.requests if r.kind == "new" and not r.done.is_set())
                    if now >= due and new_out < plan.concurrency:
                        break
                    self._cond.wait(min(end, due) - now if now < due else end - now)
            self._start("new", new_url)
            sent += 1
            # after a wait for a free slot, go on at the usual pace rather than in a burst
            due = max(due + plan.interval, time.monotonic())

    def _why(self, reason: str) -> None:
        # called with self._lock held (through self._cond)
        if not self.stopped_by:
            self.stopped_by = reason

    def _monitor(self) -> None:
        """Note when nothing listens on the port any more (polled: no event says so)."""
        backoff = Backoff(first=0.002, cap=0.02)
        while not self._halted.is_set():
            if self._check_released():
                return
            if self._over.is_set():
                return
            self._wake.wait(backoff.next())

    def _check_released(self) -> bool:
        with self._lock:
            if self.released_at is None and not listening(self.port):
                self.released_at = time.monotonic()
            return self.released_at is not None

    # -- the end

    def case_over(self) -> None:
        """Every process of the case is gone (or the case's end has come): no new
        request starts, and the port's release is noted if the monitor missed it."""
        if self.t0 is not None and not self._halted.is_set():
            self._check_released()
        with self._cond:
            self._over.set()
            self._wake.set()
            self._cond.notify_all()

    def settled(self) -> bool:
        """The window is over and every request sent before the path fired has ended."""
        assert self.t0 is not None
        if time.monotonic() < self.t0 + self.plan.window:
            return False
        return all(r.done.is_set() for r in self.requests if r.kind != "new")

    def harness_kill(self, why: str) -> None:
        """The harness is about to kill what is left: the requests still waiting
        then are unfinished (the harness cut them, not the path). Which of the app's
        processes still listen on the port is read first: they held it to the end."""
        if self.t0 is not None and not self._halted.is_set() and not self._check_released():
            held = [pid for pid, ports in listening_ports(list(self.processes())).items() if self.port in ports]
            with self._lock:
                self.held_by = sorted(held)
        with self._cond:
            self._halted.set()
            self._wake.set()
            self._cond.notify_all()
        for r in list(self.requests):
            r.abort(f"still waiting when the harness ended the case ({why})")

    def close(self, timeout: float = 5.0) -> TrafficRecord:
        """Stop everything, wait (bounded) for every thread, and return the record."""
        self.case_over()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            for r in list(self.requests):
                r.abort(f"no answer {timeout:g} s after the case ended")
            for t in self._threads:
                t.join(2.0)
            stuck = [t.name for t in self._threads if t.is_alive()]
            if stuck:
                self.notes.append(f"threads still running after the case: {', '.join(stuck)}")
        return self._record()

    def _record(self) -> TrafficRecord:
        plan = self.plan
        t0 = self.t0 if self.t0 is not None else time.monotonic()
        rec = TrafficRecord(url=plan.url, new_url=plan.new_url, in_flight=plan.in_flight, queued=plan.queued,
                            window_s=plan.window, stopped_by=self.stopped_by, notes=list(self.notes),
                            port=self.port)
        with self._lock:
            rec.requests = [r.record(t0, self._roles) for r in self.requests]
            rec.held_by = list(self.held_by)
        if self.t0 is None:
            return rec
        flight = [r for r in rec.requests if r.kind == "in-flight"]
        rec.drained = all(r.outcome == "completed" for r in flight) if flight else None
        new = sorted((r for r in rec.requests if r.kind == "new"), key=lambda r: r.sent_s or 0.0)
        rec.dropped = sum(1 for r in new if r.outcome == "cut")
        served = [r for r in new if r.outcome in ("completed", "error-status")]
        rec.last_served_s = served[-1].sent_s if served else None
        refused = [r.sent_s for r in new if r.outcome == "refused"]
        rec.refused_from_s = refused[0] if refused else None
        tail = [r for r in new if rec.last_served_s is None or (r.sent_s or 0.0) > rec.last_served_s]
        failed = [r for r in tail if r.outcome not in ("completed", "error-status", "unfinished")]
        rec.stopped_accepting_s = failed[0].sent_s if failed else None
        if self.released_at is not None:
            rec.released_s = round(self.released_at - t0, 4)
            # nothing is accepted once nothing listens, whether or not a request tried
            if rec.stopped_accepting_s is None or rec.released_s < rec.stopped_accepting_s:
                rec.stopped_accepting_s = rec.released_s
        return rec
