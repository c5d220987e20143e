"""``[app] busy = { log = REGEX }``: the app's own line naming the process doing the
work, for ``to = "busy"`` / ``"idle"`` without HTTP traffic (issue 20, item 1, for
a task). The TOML shape and its hostile values, and the watcher that keeps the
latest line naming a pid (fed lines as the output capture hands them out)."""

from __future__ import annotations

import pytest

from shutdown_probe.busyline import BusyWatch
from shutdown_probe.errors import ScenarioError
from shutdown_probe.output import Line
from shutdown_probe.patterns import compile_regex
from shutdown_probe.scenario import load_scenario


def load(tmp_path, busy: str):
    path = tmp_path / "s.toml"
    path.write_text(f'[app]\ncommand = ["{{python}}", "-c", "pass"]\nbusy = {busy}\n')
    return load_scenario(path, shown="s.toml")


def test_the_busy_line_loads_as_a_regex_with_a_pid_group(tmp_path):
    sc = load(tmp_path, r"""{ log = 'task accepted by pid (?P<pid>\d+)' }""")
    assert sc.app.busy_log is not None and sc.app.busy_log.groupindex["pid"] == 1
    assert load(tmp_path, '{ log = "x (?P<pid>\\\\d+)" }').app.busy_log is not None


def test_no_busy_line_by_default(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[app]\ncommand = ["{python}", "-c", "pass"]\n')
    assert load_scenario(path).app.busy_log is None


@pytest.mark.parametrize("busy, key, words", [
    (r"""{ log = 'task accepted by pid (\d+)' }""", "app.busy.log", "named group pid"),
    (r"""{ log = 'task (?P<worker>\d+)' }""", "app.busy.log", "named group pid"),
    ("{ log = '(unclosed' }", "app.busy.log", "invalid regex"),
    ("{ log = 3 }", "app.busy.log", "expected a string"),
    ("{ file = 'x' }", "app.busy.file", "unknown key"),
    ("{ }", "app.busy", "named group pid captures"),
    ("'task (?P<pid>\\\\d+)'", "app.busy", "expected a table"),
])
def test_a_hostile_busy_value_is_one_error_on_its_key(tmp_path, busy, key, words):
    with pytest.raises(ScenarioError) as excinfo:
        load(tmp_path, busy)
    assert excinfo.value.key == key and words in excinfo.value.message
    assert "\n" not in str(excinfo.value)


def lines(*texts: str, stream: str = "stderr"):
    return [Line(stream, n, text, 0.0) for n, text in enumerate(texts, 1)]


def test_the_watch_keeps_the_latest_line_that_names_a_pid():
    watch = BusyWatch(compile_regex(r"accepted by pid (?P<pid>\d+)"))
    assert watch.latest() is None and "no line of the app's output has matched" in watch.nothing_named()
    for line in lines("banner", "task accepted by pid 410 (pid 400)", "task started (pid 410)",
                      "task accepted by pid 411 (pid 400)", "task done (pid 410)"):
        watch(line)
    latest = watch.latest()
    assert latest is not None and (latest.pid, latest.stream, latest.number) == (411, "stderr", 4)
    assert latest.where() == "stderr line 4: 'task accepted by pid 411 (pid 400)'"


def test_a_match_whose_pid_group_is_not_a_number_names_nothing():
    watch = BusyWatch(compile_regex(r"busy: (?P<pid>\S*)"))
    for line in lines("busy: 12", "busy: ", "busy: ١٢", "busy: 99999999999", "busy: x"):
        watch(line)
    latest = watch.latest()
    assert latest is not None and latest.pid == 12


def test_a_regex_that_takes_too_long_is_turned_off_with_a_note():
    watch = BusyWatch(compile_regex(r"^(a|a)+(?P<pid>\d+)"))
    watch(Line("stdout", 1, "a" * 40 + "!", 0.0))
    assert watch.note is not None and "app.busy.log" in watch.note
    watch(Line("stdout", 2, "a5", 0.0))
    assert watch.latest() is None and watch.nothing_named().startswith("nothing names the busy process: app.busy.log")
