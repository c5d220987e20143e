"""[traffic]: HTTP requests in flight when the path fires, and new ones after.

Real servers in tests/targets/ (traffic_server.py: one threaded process that drains,
drops or keeps serving on SIGTERM; prefork_server.py: a master with pre-forked workers
that respawns a dead one), real sockets, real signals. What each test expects comes
from the targets and the kernel: a closed listener refuses connections, a process
killed with connections open has them reset, a connection left in the listen backlog
is reset when the last copy of the listener closes, a master that respawns a worker
lives on. Exact counts are asserted for the requests sent before the path fired (the
harness waits until the app has taken them); for new requests, which race the signal,
only what must hold whatever the timing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import urlsplit

import psutil
import pytest

from tests.support import TARGETS, proc, run_cli, write_scenario
from shutdown_probe import CaseResult, make_scenario, run_case
from shutdown_probe.errors import ScenarioError
from shutdown_probe.results import REQUEST_OUTCOMES
from shutdown_probe.runner import Case
from shutdown_probe.scenario import TrafficSpec, load_scenario

TRAFFIC_SERVER = str(TARGETS / "traffic_server.py")
PREFORK_SERVER = str(TARGETS / "prefork_server.py")
SLOW = 1.0  # seconds /slow takes in most tests
SLOW_URL = "http://127.0.0.1:{port}/slow"
FAST_URL = "http://127.0.0.1:{port}/"
SERVED = ("completed", "error-status")
CUT_DETAILS = ("connection reset", "closed without a response")


# ----------------------------------------------------------------------- helpers


def server(mode: str, path: str = "sigterm", *, slow: float = SLOW, stop_timeout: float = 3,
           traffic: dict | None = None, **app):
    """A traffic_server.py scenario: 3 requests in flight to /slow, new ones to /."""
    return make_scenario(
        f"traffic-{mode}", command=["{python}", TRAFFIC_SERVER, mode],
        env={"PORT": "{port}", "SLOW_SECONDS": str(slow)}, ready={"http": FAST_URL}, paths=[path],
        traffic=traffic or {"url": SLOW_URL, "in_flight": 3, "new_url": FAST_URL, "window": 1.0},
        stop_timeout=stop_timeout, **app)


def prefork(workers: int, path: str = "sigterm", *, slow: float = SLOW, traffic: dict | None = None, **app):
    return make_scenario(
        f"prefork-{workers}", command=["{python}", PREFORK_SERVER, str(workers)],
        env={"PORT": "{port}", "SLOW_SECONDS": str(slow)}, ready={"http": FAST_URL}, paths=[path],
        traffic=traffic, **app)


def traffic_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.startswith("shutdown-probe-traffic") and t.is_alive()]


def connections_to(port: int) -> list:
    """The harness's own TCP sockets whose other end is ``port`` (any state)."""
    return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def run(sc) -> tuple[CaseResult, float]:
    """Run the scenario's first path; return the result and its wall time measured
    here. Every case must leave no request thread and no socket to the app behind."""
    t = time.monotonic()
    r = run_case(Case(sc, sc.paths[0]))
    wall = time.monotonic() - t
    assert traffic_threads() == []
    if r.traffic is not None:
        port = urlsplit(r.traffic.url).port
        assert port is not None and "{port}" not in r.traffic.url  # the case's port, filled in
        assert connections_to(port) == []
        check_record(r)
    return r, wall


def check_record(r: CaseResult) -> None:
    """What every traffic record must say, whatever the app did."""
    t = r.traffic
    assert [q.n for q in t.requests] == list(range(1, len(t.requests) + 1))
    assert all(q.kind in ("in-flight", "queued", "new") for q in t.requests), t.requests
    assert all(q.outcome in REQUEST_OUTCOMES for q in t.requests), t.requests
    assert sum(sum(t.counts(k).values()) for k in ("in-flight", "queued", "new")) == len(t.requests)
    for q in t.requests:
        assert q.ended_s is not None and q.sent_s is not None and q.ended_s >= q.sent_s, q
        assert (q.status is not None) == (q.outcome in SERVED), q
    if r.outcome == "error":
        return  # the path never fired: nothing is "new", there are no verdicts
    before = [q for q in t.requests if q.kind != "new"]
    assert len(before) == t.in_flight + t.queued
    assert all(q.sent_s < 0 for q in before), before  # sent before the trigger
    assert all(q.sent_s >= 0 for q in t.requests if q.kind == "new")
    # a new request served after the port stopped accepting would contradict the verdict
    if t.stopped_accepting_s is not None:
        assert all(q.sent_s < t.stopped_accepting_s for q in new(t) if q.outcome in SERVED), t.requests
        assert t.last_served_s is None or t.last_served_s < t.stopped_accepting_s
    assert t.dropped == t.counts("new").get("cut", 0)


def new(t):
    return [q for q in t.requests if q.kind == "new"]


def kind(t, k: str):
    return [q for q in t.requests if q.kind == k]


def printed_serving_pid(r: CaseResult) -> int:
    m = re.search(r"serving on \d+ pid (\d+)", r.output_tail)
    assert m, r.output_tail
    return int(m.group(1))


# ----------------------------------------------------------------------- one process: drain, drop, keep


def test_drain_completes_every_request_in_flight_and_refuses_new_ones():
    r, _ = run(server("drain"))
    t = r.traffic
    assert r.outcome == "exited" and r.exit == {"returncode": 0, "signal": None}, (r.error, r.output_tail)
    assert r.escalations == []
    assert t.counts("in-flight") == {"completed": 3}
    assert t.counts("queued") == {}
    assert t.drained is True
    pid = printed_serving_pid(r)
    for q in kind(t, "in-flight"):
        assert q.status == 200 and q.pid == pid and q.role == "root", q
        assert q.ended_s - q.sent_s >= SLOW - 0.05, q  # really the slow endpoint, really waited for
    # the listener is closed at once: the port is released, new connections refused
    assert t.released_s is not None and 0 <= t.released_s < 0.5
    assert t.refused_from_s is not None and 0 <= t.refused_from_s < 0.5
    assert t.stopped_accepting_s is not None and t.stopped_accepting_s < 0.5
    # a new request can still be cut: one the kernel queued between the end of the
    # accept loop and the close of the listener; it was sent before the refusals began
    assert all(q.sent_s < t.refused_from_s + 0.1 for q in new(t) if q.outcome == "cut"), t.requests
    late = [q for q in new(t) if q.sent_s > t.refused_from_s + 0.1]
    assert late and all(q.outcome == "refused" and q.detail == "connection refused" for q in late), t.requests
    # the root exited only after the last request in flight was answered
    assert r.root_exit_s >= max(q.ended_s for q in kind(t, "in-flight")) - 0.05
    # the record round-trips through JSON as saved results do
    assert CaseResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


@pytest.mark.parametrize("path, signal", [("sigterm", "SIGTERM"), ("sigkill", "SIGKILL")])
def test_drop_cuts_every_request_in_flight(path, signal):
    r, _ = run(server("drop", path))
    t = r.traffic
    assert r.outcome == "exited" and r.exit == {"returncode": None, "signal": signal}, (r.error, r.output_tail)
    assert r.escalations == []
    assert t.counts("in-flight") == {"cut": 3}
    assert all(q.detail in CUT_DETAILS for q in kind(t, "in-flight")), t.requests
    pid = printed_serving_pid(r)
    assert all(q.pid == pid and q.role == "root" for q in kind(t, "in-flight"))
    # cut when the process died, long before the slow endpoint would have answered
    assert all(q.ended_s < SLOW / 2 for q in kind(t, "in-flight")), t.requests
    assert t.drained is False
    assert t.released_s is not None and t.released_s < 0.5
    assert t.stopped_by == "case ended"  # the app was gone before the window ended


def test_keep_goes_on_serving_and_hangs():
    r, _ = run(server("keep", stop_timeout=1.5, expect={"sigterm": {"dropped": False, "drained": True}}))
    t = r.traffic
    assert r.outcome == "hung", (r.error, r.output_tail)
    assert "ignoring SIGTERM" in r.output_tail
    assert t.counts("in-flight") == {"completed": 3} and t.drained is True
    assert new(t) and all(q.outcome == "completed" for q in new(t)), t.requests
    assert t.stopped_accepting_s is None and t.refused_from_s is None and t.dropped == 0
    assert t.last_served_s == max(q.sent_s for q in new(t))
    # the app never let go of its port; the harness's kill does not count as a release
    assert t.released_s is None
    assert t.stopped_by == "window"  # 1 s of new requests, well inside stop_timeout
    assert r.expect.declared and r.expect.passed, r.expect.failures


def test_traffic_paths_limits_the_cases_that_send_requests():
    sc = make_scenario(
        "traffic-only-sigterm", command=["{python}", TRAFFIC_SERVER, "drop"],
        env={"PORT": "{port}", "SLOW_SECONDS": "30"}, ready={"http": FAST_URL}, paths=["sigkill", "sigterm"],
        traffic={"url": SLOW_URL, "paths": ["sigterm"]}, stop_timeout=3)
    assert sc.traffic.covers("sigterm") and not sc.traffic.covers("sigkill")
    r, wall = run(sc)  # sigkill
    assert r.path == "sigkill" and r.outcome == "exited"
    assert r.traffic is None
    assert wall < 5  # no request to a 30 s endpoint was waited for


# ----------------------------------------------------------------------- pre-forked workers


def test_queued_request_waits_in_the_backlog_and_is_cut_when_the_last_listener_closes():
    """One worker, busy with the request in flight: the queued one stays in the listen
    backlog. The master closes its listener at once, but the worker's copy keeps the
    socket listening until the worker has finished and exits; closing it resets what
    is still in the backlog (stable over repeated runs: always cut, never served)."""
    r, _ = run(prefork(1, traffic={"url": SLOW_URL, "in_flight": 1, "queued": 1, "new_url": FAST_URL,
                                   "window": 0.5}, stop_timeout=3))
    t = r.traffic
    assert r.outcome == "exited" and r.exit == {"returncode": 0, "signal": None}, (r.error, r.output_tail)
    worker = proc(r, "child")
    assert worker.returncode == 0
    (flight,) = kind(t, "in-flight")
    (queued,) = kind(t, "queued")
    assert flight.outcome == "completed" and flight.pid == worker.pid and flight.role == "child"
    assert flight.sent_s < queued.sent_s < 0  # the queued one is sent once the first is taken
    # never taken by a process of the app
    assert queued.pid is None and queued.role is None
    assert queued.outcome == "cut" and queued.detail in CUT_DETAILS, queued
    # still waiting while the worker served the slow request
    assert queued.ended_s > SLOW / 2, queued
    assert t.drained is True  # drained is about the requests the app had taken
    assert t.released_s is not None and t.released_s > SLOW / 2


def test_a_queued_request_an_idle_worker_took_counts_as_in_flight():
    """Two workers, one busy with the request in flight: the idle one accepts the
    "queued" request at once, usually before the trigger (then it is in flight, on
    that worker); if the trigger comes first it is still queued, on no process."""
    r, _ = run(prefork(2, traffic={"url": SLOW_URL, "in_flight": 1, "queued": 1, "new_url": ""}, stop_timeout=3))
    t = r.traffic
    assert r.outcome == "exited", (r.error, r.output_tail)
    first, second = t.requests
    workers = {proc(r, "child").pid, proc(r, "child-2").pid}
    assert first.kind == "in-flight" and first.pid in workers
    assert second.kind in ("in-flight", "queued")
    if second.kind == "in-flight":
        assert second.pid in workers - {first.pid}
    else:
        assert second.pid is None and second.role is None
    # either way a worker served it before stopping
    assert [q.outcome for q in t.requests] == ["completed", "completed"] and t.drained is True
    assert new(t) == [] and t.stopped_by == ""  # new_url = "": no new requests at all


def test_prefork_sigterm_drains_every_worker_and_drops_the_backlog():
    """Both workers busy: new requests wait in the backlog of the listener the workers
    still hold, and are reset when the last worker exits (none is accepted: a worker
    told to stop finishes its request and leaves)."""
    r, _ = run(prefork(2, traffic={"url": SLOW_URL, "in_flight": 2, "new_url": FAST_URL, "window": 0.5,
                                   "interval": 0, "max_new": 3}, stop_timeout=3))
    t = r.traffic
    assert r.outcome == "exited" and r.exit == {"returncode": 0, "signal": None}, (r.error, r.output_tail)
    workers = {proc(r, "child").pid, proc(r, "child-2").pid}
    assert t.counts("in-flight") == {"completed": 2} and t.drained is True
    # one request on each worker: each accepts one connection at a time
    assert {q.pid for q in kind(t, "in-flight")} == workers
    # max_new caps the new requests
    assert len(new(t)) == 3 and t.stopped_by == "cap"
    assert t.counts("new") == {"cut": 3} and t.dropped == 3
    assert all(q.detail in CUT_DETAILS and q.ended_s > SLOW / 2 for q in new(t)), t.requests
    assert t.stopped_accepting_s == min(q.sent_s for q in new(t))
    assert t.refused_from_s is None and t.last_served_s is None
    assert t.released_s is not None and t.released_s > SLOW / 2


def test_a_master_that_respawns_its_killed_worker_survives():
    survive_after = 0.5
    sc = prefork(2, "sigkill-child", traffic={"url": SLOW_URL, "in_flight": 2, "new_url": FAST_URL,
                                              "window": 0.5}, stop_timeout=5, survive_after=survive_after)
    r, wall = run(sc)
    t = r.traffic
    assert r.outcome == "survived", (r.outcome, r.error, r.output_tail)
    assert r.error is None
    killed, other = proc(r, "child"), proc(r, "child-2")
    assert r.trigger["pid"] == killed.pid and r.trigger["signal"] == "SIGKILL"
    assert killed.signal == "SIGKILL" and not killed.killed_by_harness  # the path killed it
    # the master forked a replacement after the trigger, and said so
    (respawned,) = [p for p in r.processes if p.started_after_s is not None]
    assert respawned.role.startswith("child-") and respawned.pid not in (killed.pid, other.pid)
    assert f"respawned {respawned.pid}" in r.output_tail
    # the request on the killed worker was cut; the other worker finished its own
    assert t.counts("in-flight") == {"completed": 1, "cut": 1}
    (cut,) = [q for q in kind(t, "in-flight") if q.outcome == "cut"]
    (done,) = [q for q in kind(t, "in-flight") if q.outcome == "completed"]
    assert cut.role == "child" and cut.pid == killed.pid
    assert done.role == "child-2" and done.pid == other.pid
    assert t.drained is False
    # the killed worker was busy: no new request went to it, the others served them all
    assert t.dropped == 0 and new(t) and all(q.outcome == "completed" for q in new(t)), t.requests
    assert t.stopped_accepting_s is None and t.released_s is None
    # the harness ended the master and its workers, and said why
    assert r.escalations and all(e.reason.startswith("survived") for e in r.escalations), r.escalations
    assert {e.pid for e in r.escalations} == {p.pid for p in r.processes} - {killed.pid}
    # it waited for the traffic to settle (the slow request on the other worker), not
    # for stop_timeout
    assert wall < sc.app.stop_timeout


def test_survived_without_traffic_ends_soon_after_survive_after():
    sc = prefork(2, "sigkill-child", stop_timeout=10, survive_after=0.5)
    r, wall = run(sc)
    assert r.outcome == "survived", (r.outcome, r.error, r.output_tail)
    assert r.traffic is None and r.error is None
    assert any(p.started_after_s is not None for p in r.processes)
    assert all(e.reason.startswith("survived") for e in r.escalations) and r.escalations
    assert wall < 5  # not stop_timeout (10 s)
    assert wall >= 0.5  # but survive_after was waited out


@pytest.mark.parametrize("target, outcome", [
    # the parent's wait() returns when its child is killed: it exits
    ("parent_child.py", "exited"),
    # the parent pauses forever and starts nothing: still running at stop_timeout
    ("profile_stopped_child.py", "hung"),
])
def test_a_root_that_does_not_replace_its_child_has_not_survived(target, outcome):
    sc = make_scenario(f"no-respawn-{target}", command=["{python}", str(TARGETS / target), "{workdir}"],
                       ready={"file": "{workdir}/ready"}, paths=["sigkill-child"], stop_timeout=1,
                       survive_after=0.2)
    r, _ = run(sc)
    assert r.outcome == outcome, (r.outcome, r.error, r.output_tail)
    assert proc(r, "child").signal == "SIGKILL"
    assert all(p.started_after_s is None for p in r.processes)
    assert not any("survived" in e.reason for e in r.escalations)


# ----------------------------------------------------------------------- setup failures


def test_more_requests_in_flight_than_the_app_can_take_is_one_clear_error():
    # one worker, one request at a time: the second stays in the backlog
    sc = prefork(1, slow=5, traffic={"url": SLOW_URL, "in_flight": 2, "accept_timeout": 0.5}, stop_timeout=3)
    r, wall = run(sc)
    assert r.outcome == "error"
    assert r.error.startswith("traffic:") and "only 1 of 2" in r.error, r.error
    assert "\n" not in r.error
    assert wall < 4  # neither the 5 s request nor stop_timeout was waited for
    assert r.trigger == {}  # the path never fired
    assert r.escalations and all(e.reason == "the traffic could not be set up" for e in r.escalations)
    t = r.traffic
    assert [q.kind for q in t.requests] == ["in-flight", "in-flight"]
    # the harness gave up on them: not the app's doing
    assert t.counts("in-flight") == {"unfinished": 2}, t.requests
    assert t.drained is None and t.released_s is None


def test_an_endpoint_that_answers_at_once_is_one_clear_error():
    sc = server("drain", traffic={"url": FAST_URL, "in_flight": 2})
    r, wall = run(sc)
    assert r.outcome == "error"
    assert r.error.startswith("traffic:") and "answered" in r.error, r.error
    assert wall < 3
    assert r.trigger == {}


# ----------------------------------------------------------------------- the harness ends the case


def test_requests_the_harness_cuts_are_unfinished_not_cut():
    sc = server("keep", slow=5, stop_timeout=1.5,
                traffic={"url": SLOW_URL, "in_flight": 2, "new_url": FAST_URL, "window": 0.5})
    r, wall = run(sc)
    t = r.traffic
    assert r.outcome == "hung", (r.outcome, r.error)
    assert t.counts("in-flight") == {"unfinished": 2}, t.requests
    for q in kind(t, "in-flight"):
        assert "harness" in q.detail, q
        assert q.ended_s >= sc.app.stop_timeout - 0.05  # ended by the kill, not before
    assert t.drained is False
    assert t.counts("new").get("cut", 0) == 0 and t.dropped == 0
    assert wall < 4  # the 5 s requests were not waited for


# ----------------------------------------------------------------------- expectations


def test_drained_expectation_fails_readably_when_requests_are_cut():
    r, _ = run(server("drop", expect={"sigterm": {"drained": True, "dropped": False}}))
    assert r.expect.declared and not r.expect.passed
    drained = [f for f in r.expect.failures if "in flight" in f]
    assert drained == ["expected every request in flight to complete; in flight: 3 cut"], r.expect.failures
    # dropped = false holds or fails depending on a new request's race with the signal;
    # its line, when there is one, says what the new requests did
    cut = r.traffic.counts("new").get("cut", 0)
    dropped = [f for f in r.expect.failures if f.startswith("expected no new request")]
    assert len(dropped) == (1 if cut else 0), r.expect.failures
    assert len(r.expect.failures) == 1 + len(dropped)
    assert r.failed


def test_drained_false_passes_on_drop_and_fails_on_drain():
    r, _ = run(server("drop", expect={"sigterm": {"drained": False}}))
    assert r.expect.passed and r.expect.failures == []
    r, _ = run(server("drain", expect={"sigterm": {"drained": False}}))
    assert r.expect.failures == ["expected some request in flight to fail; in flight: 3 completed"]


# ----------------------------------------------------------------------- parsing

APP = '[app]\ncommand = ["{python}", "-c", "pass"]\n'
SIGTERM = 'paths = ["sigterm"]\n' + APP
TRAFFIC = '[traffic]\nurl = "http://127.0.0.1:{port}/slow"\n'


def bad(id: str, text: str, key: str, *phrases: str):
    return pytest.param(text, key, phrases, id=id)


BAD = [
    bad("url-missing", SIGTERM + "[traffic]\nin_flight = 2\n", "traffic.url", "missing", "slow endpoint"),
    bad("url-https", SIGTERM + '[traffic]\nurl = "https://127.0.0.1:{port}/slow"\n', "traffic.url",
        "http://", "https://127.0.0.1"),
    bad("url-not-a-string", SIGTERM + "[traffic]\nurl = 8080\n", "traffic.url", "string", "integer"),
    bad("url-placeholder-typo", SIGTERM + '[traffic]\nurl = "http://127.0.0.1:{prot}/slow"\n', "traffic.url",
        "{prot}", "did you mean {port}"),
    bad("new-url-https", SIGTERM + TRAFFIC + 'new_url = "https://127.0.0.1:{port}/"\n', "traffic.new_url",
        "http://"),
    bad("unknown-key", SIGTERM + TRAFFIC + "in_flihgt = 2\n", "traffic.in_flihgt", "unknown key",
        "did you mean 'in_flight'"),
    bad("in-flight-negative", SIGTERM + TRAFFIC + "in_flight = -1\n", "traffic.in_flight", "0 to 1000", "-1"),
    bad("in-flight-too-many", SIGTERM + TRAFFIC + "in_flight = 1001\n", "traffic.in_flight", "0 to 1000"),
    bad("in-flight-fraction", SIGTERM + TRAFFIC + "in_flight = 1.5\n", "traffic.in_flight", "whole number",
        "1.5"),
    bad("in-flight-boolean", SIGTERM + TRAFFIC + "in_flight = true\n", "traffic.in_flight", "whole number",
        "boolean"),
    bad("queued-a-string", SIGTERM + TRAFFIC + 'queued = "2"\n', "traffic.queued", "whole number"),
    bad("window-zero", SIGTERM + TRAFFIC + "window = 0\n", "traffic.window", "positive", "0"),
    bad("window-negative", SIGTERM + TRAFFIC + "window = -1\n", "traffic.window", "positive"),
    bad("accept-timeout-zero", SIGTERM + TRAFFIC + "accept_timeout = 0\n", "traffic.accept_timeout", "positive"),
    bad("interval-negative", SIGTERM + TRAFFIC + "interval = -0.1\n", "traffic.interval", "zero or more"),
    bad("method-unknown", SIGTERM + TRAFFIC + 'method = "FETCH"\n', "traffic.method", "GET", "'FETCH'"),
    bad("paths-unknown-path", SIGTERM + TRAFFIC + 'paths = ["sigkill"]\n', "traffic.paths",
        "unknown path 'sigkill'", "sigterm"),
    bad("paths-typo", SIGTERM + TRAFFIC + 'paths = ["sigtrem"]\n', "traffic.paths", "did you mean 'sigterm'"),
    bad("paths-empty", SIGTERM + TRAFFIC + "paths = []\n", "traffic.paths", "empty"),
    bad("sends-nothing", SIGTERM + TRAFFIC + "in_flight = 0\nqueued = 0\nconcurrency = 0\n", "traffic",
        "sends no request"),
    bad("sends-nothing-no-new-url", SIGTERM + TRAFFIC + 'in_flight = 0\nnew_url = ""\n', "traffic",
        "sends no request"),
    bad("traffic-not-a-table", 'traffic = "http://127.0.0.1:{port}/slow"\n' + SIGTERM, "traffic", "table"),
    bad("drained-without-traffic", SIGTERM + "[expect.sigterm]\ndrained = true\n", "expect.sigterm.drained",
        "no [traffic]"),
    bad("dropped-without-traffic", SIGTERM + "[expect.sigterm]\ndropped = false\n", "expect.sigterm.dropped",
        "no [traffic]"),
    bad("drained-path-not-in-traffic-paths",
        'paths = ["sigterm", "sigkill"]\n' + APP + TRAFFIC + 'paths = ["sigterm"]\n'
        + "[expect.sigkill]\ndrained = true\n",
        "expect.sigkill.drained", "'sigkill'", "not in traffic.paths"),
    bad("drained-nothing-in-flight", SIGTERM + TRAFFIC + "in_flight = 0\n[expect.sigterm]\ndrained = true\n",
        "expect.sigterm.drained", "in_flight is 0"),
    bad("drained-not-a-boolean", SIGTERM + TRAFFIC + '[expect.sigterm]\ndrained = "yes"\n',
        "expect.sigterm.drained", "true or false"),
    bad("dropped-typo", SIGTERM + TRAFFIC + "[expect.sigterm]\ndroped = true\n", "expect.sigterm.droped",
        "did you mean 'dropped'"),
]


@pytest.mark.parametrize("text, key, phrases", BAD)
def test_bad_traffic(tmp_path, text, key, phrases):
    path = write_scenario(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert type(info.value) is ScenarioError
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key}: "), f"expected key {key!r} in {message!r}"
    for phrase in phrases:
        assert phrase in message, f"expected {phrase!r} in {message!r}"


def test_bad_traffic_from_make_scenario_names_the_key():
    with pytest.raises(ScenarioError, match=r"^scenario 't': traffic.window: .*positive"):
        make_scenario("t", command=["{python}", "-c", "pass"], traffic={"url": SLOW_URL, "window": 0})


def test_traffic_defaults_and_resolution(tmp_path):
    sc = load_scenario(write_scenario(tmp_path, SIGTERM + TRAFFIC))
    assert sc.traffic == TrafficSpec(url="http://127.0.0.1:{port}/slow")
    assert sc.traffic.covers("sigterm") and sc.traffic.paths is None
    plan = sc.resolve(port=4321, workdir="/w").traffic
    assert plan.url == plan.new_url == "http://127.0.0.1:4321/slow"  # new requests go to url by default
    spec = TrafficSpec(url="")
    assert (plan.in_flight, plan.queued, plan.concurrency, plan.interval, plan.max_new, plan.window, plan.timeout,
            plan.accept_timeout, plan.method) == (
        spec.in_flight, spec.queued, spec.concurrency, spec.interval, spec.max_new, spec.window, spec.timeout,
        spec.accept_timeout, spec.method)


def test_traffic_settings_load(tmp_path):
    sc = load_scenario(write_scenario(tmp_path, 'paths = ["sigterm", "sigkill"]\n' + APP + TRAFFIC + (
        'new_url = "http://127.0.0.1:{port}/new"\nin_flight = 0\nqueued = 2\nconcurrency = 3\n'
        'interval = 0\nmax_new = 7\nwindow = 0.5\ntimeout = 4\naccept_timeout = 2\nmethod = "post"\n'
        'paths = ["sigkill"]\n[expect.sigkill]\ndrained = false\ndropped = true\n')))
    t = sc.traffic
    assert (t.in_flight, t.queued, t.concurrency, t.interval, t.max_new) == (0, 2, 3, 0.0, 7)
    assert (t.window, t.timeout, t.accept_timeout, t.method, t.paths) == (0.5, 4.0, 2.0, "POST", ("sigkill",))
    assert not t.covers("sigterm") and t.covers("sigkill")
    assert (sc.expect["sigkill"].drained, sc.expect["sigkill"].dropped) == (False, True)
    assert sc.resolve(port=1, workdir="/w").traffic.new_url == "http://127.0.0.1:1/new"


def test_empty_new_url_sends_no_new_requests(tmp_path):
    sc = load_scenario(write_scenario(tmp_path, SIGTERM + TRAFFIC + 'new_url = ""\n'))
    assert sc.traffic.new_url == ""
    assert sc.resolve(port=1, workdir="/w").traffic.new_url is None


def test_cli_check_bad_traffic_key_is_one_line_and_exit_2(tmp_path):
    path = write_scenario(tmp_path, SIGTERM + TRAFFIC + "in_flihgt = 2\n")
    proc = run_cli("check", str(path))
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0] and "traffic.in_flihgt" in lines[0] and "in_flight" in lines[0], lines[0]
