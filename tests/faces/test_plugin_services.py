"""The pytest plugin's scenario services: a service of scope "run" serves every item
of its scenario in a row and stops after the last of them (before the next
scenario's items run); one of scope "case" serves one item. Starts and stops are
counted from the echo service's own log, not from the results."""

from __future__ import annotations

import json
import textwrap

from tests.support import TARGETS

MARK = "# shutdown-probe scenario\n"


def echo_toml(log, scope: str) -> str:
    return MARK + textwrap.dedent(f'''\
        paths = ["sigterm", "sigint", "sigkill"]
        [app]
        command = ["{{python}}", {json.dumps(str(TARGETS / "service_client.py"))}, "{{workdir}}"]
        env = {{ ECHO_PORT = "{{services.echo.port}}" }}
        ready = {{ file = "{{workdir}}/ready" }}
        [services.echo]
        command = ["{{python}}", {json.dumps(str(TARGETS / "echo_service.py"))}, "{{port}}", {json.dumps(str(log))}]
        ready = {{ tcp = "127.0.0.1:{{port}}" }}
        scope = "{scope}"
        ''')


def events(log) -> list[tuple[str, str]]:
    return [(line.split()[0], line.split()[1]) for line in log.read_text().splitlines()]


def test_run_scoped_services_live_for_their_scenarios_items_and_case_scoped_ones_for_one(pytester, tmp_path):
    log = tmp_path / "echo.log"  # both scenarios' services write here, in the order things happen
    pytester.makefile(".toml", a=echo_toml(log, "run"), b=echo_toml(log, "case"))
    result = pytester.runpytest("-p", "no:cacheprovider", "a.toml", "b.toml")
    result.assert_outcomes(passed=6)
    seen = events(log)
    # a: one start for its three items, stopped (SIGTERM) before b's first item started its own
    a_pid = seen[0][1]
    assert seen[:2] == [("start", a_pid), ("stop", a_pid)]
    # b: one per item, each stopped before the next one started
    rest = seen[2:]
    assert len(rest) == 6
    for n in range(3):
        start, stop = rest[2 * n], rest[2 * n + 1]
        assert start[0] == "start" and stop == ("stop", start[1])
    assert len({p for _, p in rest}) == 3
