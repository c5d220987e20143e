"""The scenario loader: every user mistake is one ScenarioError line, every good file loads.

The bad-file table is written from the spec (design.md, "Scenario file (TOML)") and from
what a user needs to read to fix the file: the key at fault, and a phrase that says
what is wrong. It is deliberately not a copy of the loader's wording.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.support import write_scenario
from shutdown_probe.errors import ScenarioError
from shutdown_probe.paths import BUILTIN_PATHS, PROFILE_PATHS, SIGNAL_PATHS
from shutdown_probe.scenario import (
    Expectation, ProfileSettings, Resolved, Scenario, describe, load_scenario, make_scenario,
)

# A command that always exists: the test's own interpreter.
APP = '[app]\ncommand = ["{python}", "-c", "pass"]\n'
OS_EXIT = '[triggers.os-exit]\nhttp = "http://127.0.0.1:{port}/exit"\n'


def profiles(*names: str) -> str:
    """A paths line listing ``names`` and the app: the start of a profile scenario."""
    return "paths = [" + ", ".join(f'"{n}"' for n in names) + "]\n" + APP


DOCKER = profiles("docker-stop")
K8S = profiles("k8s-delete")
DOUBLE = profiles("double-ctrl-c")
HOOK_BYE = '[hooks.bye]\nlog = "bye"\n'


def case(id: str, text: str, key: str | None, *phrases: str, files: dict[str, str] | None = None):
    """One bad file: the key the message must name and the phrases it must contain."""
    return pytest.param(text, key, phrases, files or {}, id=id)


BAD = [
    # ---- unknown keys, with a suggestion
    case("top-unknown-key-pathz", 'pathz = ["sigterm"]\n' + APP,
         "pathz", "unknown key", "did you mean 'paths'"),
    case("top-unknown-key-no-close-match", 'colour = "red"\n' + APP,
         "colour", "unknown key", "paths"),
    case("app-orphan-watch-negative", APP + "orphan_watch = -1\n", "app.orphan_watch", "zero or more seconds"),
    case("app-orphan-watch-not-a-number", APP + 'orphan_watch = "2s"\n', "app.orphan_watch", "seconds"),
    case("app-unknown-key", '[app]\ncomand = ["{python}", "-c", "pass"]\n',
         "app.comand", "unknown key", "did you mean 'command'"),
    case("app-ready-unknown-key", APP + '[app.ready]\nhtp = "http://127.0.0.1:{port}/"\n',
         "app.ready.htp", "unknown key", "did you mean 'http'"),
    case("hook-unknown-key", APP + '[hooks.atexit]\nlogs = "bye"\n',
         "hooks.atexit.logs", "unknown key", "did you mean 'log'"),
    case("trigger-unknown-key", APP + OS_EXIT + 'methd = "POST"\n',
         "triggers.os-exit.methd", "unknown key", "did you mean 'method'"),
    case("expect-unknown-key",
         'paths = ["sigkill"]\n' + APP + '[hooks.atexit]\nlog = "bye"\n[expect.sigkill]\nnot_run = ["atexit"]\n',
         "expect.sigkill.not_run", "unknown key", "did you mean 'not_ran'"),
    case("top-level-key-written-below-app", APP + 'paths = ["sigterm"]\n',
         "app.paths", "top-level", "above the first [table]"),

    # ---- wrong types
    case("top-name-not-string", 'name = 3\n' + APP, "name", "string"),
    case("top-description-not-string", 'description = ["a"]\n' + APP, "description", "string"),
    case("app-not-a-table", 'app = "python app.py"\n', "app", "table"),
    case("command-a-number", '[app]\ncommand = 42\n', "app.command", "list", "42"),
    case("command-list-item-a-number", '[app]\ncommand = ["{python}", 3]\n', "app.command", "item 2"),
    case("command-unbalanced-quote", '[app]\ncommand = "python \'app.py"\n', "app.command", "quot"),
    case("env-not-a-table", APP + 'env = "PORT=1"\n', "app.env", "table"),
    case("env-value-a-table", APP + 'env = { PORT = { value = 1 } }\n', "app.env.PORT", "string", "table"),
    case("ready-timeout-a-string", APP + 'ready_timeout = "15"\n', "app.ready_timeout", "seconds", "string"),
    case("ready-timeout-a-date", APP + 'ready_timeout = 2024-01-01\n', "app.ready_timeout", "seconds"),
    case("ready-timeout-zero", APP + 'ready_timeout = 0\n', "app.ready_timeout", "positive"),
    case("ready-timeout-nan", APP + 'ready_timeout = nan\n', "app.ready_timeout", "finite"),
    case("stop-timeout-negative", APP + 'stop_timeout = -1\n', "app.stop_timeout", "positive", "-1"),
    case("stop-timeout-infinite", APP + 'stop_timeout = inf\n', "app.stop_timeout", "finite"),
    case("shell-not-a-bool", APP + 'shell = "yes"\n', "app.shell", "true or false"),
    case("unbuffered-a-string", APP + 'unbuffered = "false"\n', "app.unbuffered", "true or false"),
    case("hooks-value-not-a-string-or-table", APP + "[hooks]\natexit = 3\n", "hooks.atexit", "a log regex (a string) or a table"),
    case("triggers-not-a-table", 'triggers = ["os-exit"]\n' + APP, "triggers", "table"),
    case("paths-not-a-list", 'paths = "sigterm"\n' + APP, "paths", "list"),
    case("expect-orphans-not-bool",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\norphans = "no"\n',
         "expect.sigkill.orphans", "true or false"),
    case("expect-exit-a-bool",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\nexit = true\n',
         "expect.sigkill.exit", "return code", "boolean (true)"),

    # ---- [app] and its command
    case("missing-app", 'name = "x"\n', "app", "missing"),
    case("missing-command", '[app]\ncwd = "."\n', "app.command", "missing"),
    case("empty-command-list", '[app]\ncommand = []\n', "app.command", "empty"),
    case("empty-command-string", '[app]\ncommand = "   "\n', "app.command", "empty"),
    case("empty-program-name", '[app]\ncommand = ["", "app.py"]\n', "app.command", "empty"),
    case("executable-not-on-path", '[app]\ncommand = ["no-such-program-4f2a", "--serve"]\n',
         "app.command", "'no-such-program-4f2a'", "PATH"),
    case("executable-path-missing", '[app]\ncommand = ["./bin/server"]\n',
         "app.command", "./bin/server", "does not exist"),
    case("executable-is-a-directory", '[app]\ncommand = ["{scenario_dir}"]\n',
         "app.command", "not an executable"),
    case("executable-not-executable", '[app]\ncommand = ["./run.sh"]\n',
         "app.command", "run.sh", "not an executable", files={"run.sh": "#!/bin/sh\n"}),
    case("python-script-missing", '[app]\ncommand = ["{python}", "apps/servr.py"]\n',
         "app.command", "apps/servr.py", "does not exist", files={"apps/server.py": ""}),
    case("python-script-missing-in-scenario-dir",
         '[app]\ncommand = ["{python}", "{scenario_dir}/nothere.py"]\n',
         "app.command", "nothere.py", "does not exist"),
    case("cwd-missing", APP + 'cwd = "no-such-folder"\n', "app.cwd", "no-such-folder", "does not exist"),
    case("cwd-is-a-file", APP + 'cwd = "notes.txt"\n', "app.cwd", "notes.txt", "not a folder",
         files={"notes.txt": "x"}),
    case("cwd-nul-character", APP + 'cwd = "a\\u0000b"\n', "app.cwd", "NUL"),

    # ---- ready
    case("ready-two-kinds", APP + 'ready = { http = "http://127.0.0.1:{port}/", tcp = "{port}" }\n',
         "app.ready", "exactly one", "2"),
    case("ready-zero-kinds", APP + 'ready = {}\n', "app.ready", "exactly one", "0"),
    case("ready-not-a-table", APP + 'ready = "http://127.0.0.1:{port}/"\n', "app.ready", "table"),
    case("ready-http-not-a-url", APP + 'ready = { http = "127.0.0.1:{port}" }\n',
         "app.ready.http", "http://", "127.0.0.1:{port}"),
    case("ready-tcp-garbage", APP + 'ready = { tcp = "the port" }\n', "app.ready.tcp", "port", "the port"),
    case("ready-tcp-port-out-of-range", APP + 'ready = { tcp = 70000 }\n', "app.ready.tcp", "65535"),
    case("ready-log-invalid-regex", APP + 'ready = { log = "Running on (http" }\n',
         "app.ready.log", "regex", "Running on (http"),
    case("ready-delay-negative", APP + 'ready = { delay = -0.5 }\n', "app.ready.delay", "seconds", "-0.5"),

    # ---- hooks and placeholders
    case("hook-invalid-regex", APP + "[hooks.atexit]\nlog = 'shutdown [done'\n",
         "hooks.atexit.log", "regex", "shutdown [done"),
    case("hook-log-and-file", APP + '[hooks.atexit]\nlog = "bye"\nfile = "{workdir}/bye"\n',
         "hooks.atexit", "log", "file", "one"),
    case("hook-neither-log-nor-file", APP + '[hooks.atexit]\n', "hooks.atexit", "log", "file"),
    case("placeholder-prot-in-hook-file", APP + '[hooks.released]\nfile = "{workdir}/released-{prot}"\n',
         "hooks.released.file", "{prot}", "{port}"),
    case("placeholder-typo-in-env", APP + 'env = { PORT = "{portt}" }\n', "app.env.PORT", "{portt}"),
    case("placeholder-typo-in-command", '[app]\ncommand = ["{pyhton}", "app.py"]\n',
         "app.command", "{pyhton}", "{python}"),
    case("hook-name-with-newline", APP + '[hooks."a\\nb"]\nlog = "x("\n', "hooks.a\\nb.log", "regex"),

    # ---- paths and triggers
    case("unknown-path-sigtrem", 'paths = ["sigint", "sigtrem"]\n' + APP,
         "paths", "'sigtrem'", "did you mean 'sigterm'"),
    case("path-listed-twice", 'paths = ["sigint", "sigterm", "sigint"]\n' + APP, "paths", "'sigint'", "twice"),
    case("paths-empty", 'paths = []\n' + APP, "paths", "empty"),
    case("os-exit-without-trigger", 'paths = ["sigterm", "os-exit"]\n' + APP,
         "paths", "os-exit", "[triggers.os-exit]"),
    case("trigger-neither-http-nor-command", APP + '[triggers.os-exit]\nmethod = "POST"\n',
         "triggers.os-exit", "http", "command"),
    case("trigger-http-not-a-url", APP + '[triggers.os-exit]\nhttp = "/user/Amy"\n',
         "triggers.os-exit.http", "http://"),
    case("trigger-unknown-method", APP + OS_EXIT + 'method = "FETCH"\n',
         "triggers.os-exit.method", "FETCH", "POST"),
    case("trigger-empty-command", APP + '[triggers.crash]\ncommand = []\n',
         "triggers.crash.command", "empty"),

    # ---- expect
    case("expect-path-not-in-paths",
         'paths = ["sigint", "sigterm"]\n' + APP + '[expect.sigkill]\nran = []\n',
         "expect.sigkill", "'sigkill'", "add it to paths"),
    case("expect-path-unknown-anywhere",
         'paths = ["sigint", "sigterm"]\n' + APP + '[expect.sigtrem]\nran = []\n',
         "expect.sigtrem", "'sigtrem'", "did you mean 'sigterm'"),
    case("expect-undefined-hook-in-ran",
         'paths = ["sigkill"]\n' + APP + '[hooks.atexit]\nlog = "bye"\n[expect.sigkill]\nran = ["atexitt"]\n',
         "expect.sigkill.ran", "'atexitt'", "did you mean 'atexit'"),
    case("expect-hook-when-none-defined",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\nnot_ran = ["atexit"]\n',
         "expect.sigkill.not_ran", "'atexit'", "hook"),
    case("expect-hook-in-ran-and-not-ran",
         'paths = ["sigkill"]\n' + APP + '[hooks.atexit]\nlog = "bye"\n'
         '[expect.sigkill]\nran = ["atexit"]\nnot_ran = ["atexit"]\n',
         "expect.sigkill", "'atexit'", "both"),
    case("expect-exit-unknown-signal",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\nexit = "SIGKIL"\n',
         "expect.sigkill.exit", "'SIGKIL'", "did you mean 'SIGKILL'"),
    case("expect-exit-lowercase-signal",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\nexit = "kill"\n',
         "expect.sigkill.exit", "'kill'", "SIGKILL"),
    case("expect-exit-code-out-of-range",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\nexit = -9\n',
         "expect.sigkill.exit", "-9", "255"),
    case("expect-outcome-not-allowed",
         'paths = ["sigkill"]\n' + APP + '[expect.sigkill]\noutcome = "crashed"\n',
         "expect.sigkill.outcome", "'crashed'", "exited", "hung"),
    # ---- the Python probe
    case("probe-not-a-boolean", APP + 'probe = "yes"\n', "app.probe", "true or false"),
    case("inject-path-with-probe-off", 'paths = ["inject-os-exit"]\n' + APP + "probe = false\n",
         "paths", "inject-os-exit", "app.probe = false"),
    case("probe-hook-expected-with-probe-off",
         'paths = ["sigterm"]\n' + APP + 'probe = false\n[expect.sigterm]\nran = ["atexit:flush"]\n',
         "expect.sigterm.ran", "atexit:flush", "app.probe = false"),
    case("bare-atexit-prefix-is-not-a-probe-hook",
         'paths = ["sigterm"]\n' + APP + '[expect.sigterm]\nran = ["atexit:"]\n',
         "expect.sigterm.ran", "unknown hook"),

    # ---- [profiles]: the table itself
    case("profiles-not-a-table", 'profiles = 3\n' + DOCKER, "profiles", "table", "integer (3)"),
    case("profiles-unknown-profile-typo", DOCKER + '[profiles.docker-stp]\ngrace = 2\n',
         "profiles.docker-stp", "unknown key", "did you mean 'docker-stop'", "grace", "k8s-delete",
         "double-ctrl-c"),
    case("profiles-unknown-key-no-close-match", DOCKER + '[profiles]\ncolour = 1\n',
         "profiles.colour", "unknown key", "allowed here: grace", "supervisor-stop-group"),
    case("profiles-per-profile-key-at-the-top", DOCKER + '[profiles]\nsignal = "SIGQUIT"\n',
         "profiles.signal", "per profile", "[profiles.NAME]"),
    case("profiles-own-key-at-the-top-names-its-profile", DOUBLE + '[profiles]\nafter = 1\n',
         "profiles.after", "per profile", "[profiles.double-ctrl-c]"),
    case("profiles-signal-path-is-not-a-profile", profiles("sigterm") + '[profiles.sigterm]\ngrace = 1\n',
         "profiles.sigterm", "'sigterm'", "not a stop profile", "docker-stop"),
    case("profiles-trigger-is-not-a-profile", profiles("os-exit") + OS_EXIT + '[profiles.os-exit]\ngrace = 1\n',
         "profiles.os-exit", "not a stop profile"),
    case("profile-value-not-a-table", DOCKER + '[profiles]\ndocker-stop = 5\n',
         "profiles.docker-stop", "table", "integer (5)"),
    case("profile-not-in-paths", profiles("sigterm") + '[profiles.docker-stop]\ngrace = 1\n',
         "profiles.docker-stop", "'docker-stop'", "not one of this scenario's paths", "add it to paths",
         "remove [profiles.docker-stop]", "paths: sigterm"),
    case("profile-not-in-default-paths", APP + '[profiles.k8s-delete]\ngrace = 1\n',
         "profiles.k8s-delete", "'k8s-delete'", "add it to paths"),
    case("profile-top-level-key-written-below-it", APP + '[profiles.docker-stop]\npaths = ["docker-stop"]\n',
         "profiles.docker-stop.paths", "top-level", "above the first [table]", "grace, signal"),

    # ---- the table-wide grace
    case("profiles-grace-negative", DOCKER + '[profiles]\ngrace = -1\n',
         "profiles.grace", "zero or more seconds", "-1"),
    case("profiles-grace-a-string", DOCKER + '[profiles]\ngrace = "10s"\n',
         "profiles.grace", "seconds", "string ('10s')"),
    case("profiles-grace-infinite", DOCKER + '[profiles]\ngrace = inf\n', "profiles.grace", "finite"),
    case("profiles-grace-without-a-profile-path", profiles("sigterm") + '[profiles]\ngrace = 2\n',
         "profiles.grace", "applies to no path", "stop profile", "paths: sigterm"),
    case("profiles-grace-with-only-double-ctrl-c", DOUBLE + '[profiles]\ngrace = 2\n',
         "profiles.grace", "applies to no path", "double-ctrl-c"),

    # ---- grace and signal per profile
    case("profile-grace-negative", DOCKER + '[profiles.docker-stop]\ngrace = -0.5\n',
         "profiles.docker-stop.grace", "zero or more seconds", "-0.5"),
    case("profile-grace-a-boolean", DOCKER + '[profiles.docker-stop]\ngrace = true\n',
         "profiles.docker-stop.grace", "seconds", "boolean (true)"),
    case("profile-grace-nan", DOCKER + '[profiles.docker-stop]\ngrace = nan\n',
         "profiles.docker-stop.grace", "finite"),
    case("profile-unknown-key-typo", DOCKER + '[profiles.docker-stop]\ngrase = 3\n',
         "profiles.docker-stop.grase", "unknown key", "did you mean 'grace'", "allowed here: grace, signal"),
    case("double-ctrl-c-has-no-grace", DOUBLE + '[profiles.double-ctrl-c]\ngrace = 3\n',
         "profiles.double-ctrl-c.grace", "never kills", "no grace", "app.stop_timeout"),
    case("double-ctrl-c-signal-is-fixed", DOUBLE + '[profiles.double-ctrl-c]\nsignal = "SIGTERM"\n',
         "profiles.double-ctrl-c.signal", "SIGINT", "cannot be changed", "after, when"),
    case("double-ctrl-c-unknown-key-typo", DOUBLE + '[profiles.double-ctrl-c]\naftr = 1\n',
         "profiles.double-ctrl-c.aftr", "did you mean 'after'", "allowed here: after, when"),
    case("signal-typo", DOCKER + '[profiles.docker-stop]\nsignal = "SIGTREM"\n',
         "profiles.docker-stop.signal", "'SIGTREM'", "did you mean 'SIGTERM'", "signal name"),
    case("signal-without-sig-prefix", DOCKER + '[profiles.docker-stop]\nsignal = "quit"\n',
         "profiles.docker-stop.signal", "'quit'", "did you mean 'SIGQUIT'"),
    case("signal-a-number", DOCKER + '[profiles.docker-stop]\nsignal = 15\n',
         "profiles.docker-stop.signal", "signal name", "'SIGTERM'", "integer (15)"),
    case("signal-realtime-offset-is-not-a-name", DOCKER + '[profiles.docker-stop]\nsignal = "SIGRTMIN+3"\n',
         "profiles.docker-stop.signal", "unknown signal name", "'SIGRTMIN+3'", "without an offset"),
    case("signal-sigkill-is-not-a-stop-signal", DOCKER + '[profiles.docker-stop]\nsignal = "SIGKILL"\n',
         "profiles.docker-stop.signal", "SIGKILL", "not a stop signal", "cannot be caught", "grace = 0"),
    case("signal-sigstop-is-not-a-stop-signal", profiles("systemd-stop") + '[profiles.systemd-stop]\nsignal = "SIGSTOP"\n',
         "profiles.systemd-stop.signal", "SIGSTOP", "not a stop signal", "pauses"),

    # ---- keys of one profile only
    case("init-on-docker-stop", DOCKER + '[profiles.docker-stop]\ninit = "tini"\n',
         "profiles.docker-stop.init", "[profiles.docker-stop-init]", "allowed here: grace, signal"),
    case("init-unknown-kind", profiles("docker-stop-init") + '[profiles.docker-stop-init]\ninit = "dumb-init"\n',
         "profiles.docker-stop-init.init", "'dumb-init'", "auto", "tini", "builtin",
         "a path of its own", "'docker-stop-dumb-init'"),
    case("init-tini-group-is-a-path", profiles("docker-stop-init") + '[profiles.docker-stop-init]\ninit = "tini-group"\n',
         "profiles.docker-stop-init.init", "'docker-stop-tini-group'"),
    case("init-on-dumb-init-path", profiles("docker-stop-dumb-init") + '[profiles.docker-stop-dumb-init]\ninit = "tini"\n',
         "profiles.docker-stop-dumb-init.init", "[profiles.docker-stop-init] or [profiles.docker-stop-tini-group]"),
    case("exec-stop-on-docker-stop", DOCKER + '[profiles.docker-stop]\nexec_stop = ["true"]\n',
         "profiles.docker-stop.exec_stop", "[profiles.systemd-stop] or [profiles.systemd-stop-mixed] or "
         "[profiles.systemd-stop-process]"),
    case("exec-stop-empty", profiles("systemd-stop") + '[profiles.systemd-stop]\nexec_stop = []\n',
         "profiles.systemd-stop.exec_stop", "argv list", "an empty list"),
    case("exec-stop-a-string", profiles("systemd-stop") + '[profiles.systemd-stop]\nexec_stop = "kill $MAINPID"\n',
         "profiles.systemd-stop.exec_stop", "argv list", "a string"),
    case("exec-stop-empty-command", profiles("systemd-stop-mixed") + '[profiles.systemd-stop-mixed]\nexec_stop = [["true"], []]\n',
         "profiles.systemd-stop-mixed.exec_stop[1]", "is empty"),
    case("exec-stop-mixed-items", profiles("systemd-stop") + '[profiles.systemd-stop]\nexec_stop = ["true", ["false"]]\n',
         "profiles.systemd-stop.exec_stop", "list of strings", "item 2"),
    case("init-unknown-kind-typo", profiles("docker-stop-init") + '[profiles.docker-stop-init]\ninit = "tinni"\n',
         "profiles.docker-stop-init.init", "did you mean 'tini'"),
    case("init-not-a-string", profiles("docker-stop-init") + '[profiles.docker-stop-init]\ninit = true\n',
         "profiles.docker-stop-init.init", "string", "boolean"),
    case("pre-stop-on-docker-stop", DOCKER + '[profiles.docker-stop.pre_stop]\nhttp = "http://127.0.0.1:{port}/drain"\n',
         "profiles.docker-stop.pre_stop", "[profiles.k8s-delete]"),
    case("after-on-docker-stop", DOCKER + '[profiles.docker-stop]\nafter = 1\n',
         "profiles.docker-stop.after", "[profiles.double-ctrl-c]", "allowed here: grace, signal"),
    case("when-on-k8s-delete", K8S + HOOK_BYE + '[profiles.k8s-delete]\nwhen = "bye"\n',
         "profiles.k8s-delete.when", "[profiles.double-ctrl-c]", "grace, signal, pre_stop"),

    # ---- k8s-delete's preStop action: the trigger rules
    case("pre-stop-not-a-table", K8S + '[profiles.k8s-delete]\npre_stop = "curl /drain"\n',
         "profiles.k8s-delete.pre_stop", "table", "string"),
    case("pre-stop-http-and-command", K8S + '[profiles.k8s-delete.pre_stop]\n'
         'http = "http://127.0.0.1:{port}/drain"\ncommand = ["true"]\n',
         "profiles.k8s-delete.pre_stop", "exactly one", "http", "command"),
    case("pre-stop-neither-http-nor-command", K8S + '[profiles.k8s-delete.pre_stop]\nmethod = "POST"\n',
         "profiles.k8s-delete.pre_stop", "exactly one", "http", "command"),
    case("pre-stop-timeout-not-configurable", K8S + '[profiles.k8s-delete.pre_stop]\n'
         'command = ["true"]\ntimeout = 3\n',
         "profiles.k8s-delete.pre_stop.timeout", "not configurable", "grace", "profiles.k8s-delete.grace"),
    case("pre-stop-unknown-key-typo", K8S + '[profiles.k8s-delete.pre_stop]\nhtp = "http://x/"\n',
         "profiles.k8s-delete.pre_stop.htp", "did you mean 'http'", "allowed here: http, method, command"),
    case("pre-stop-http-not-a-url", K8S + '[profiles.k8s-delete.pre_stop]\nhttp = "/drain"\n',
         "profiles.k8s-delete.pre_stop.http", "http://", "'/drain'"),
    case("pre-stop-unknown-method", K8S + '[profiles.k8s-delete.pre_stop]\n'
         'http = "http://127.0.0.1:{port}/drain"\nmethod = "FETCH"\n',
         "profiles.k8s-delete.pre_stop.method", "'FETCH'", "POST"),
    case("pre-stop-empty-command", K8S + '[profiles.k8s-delete.pre_stop]\ncommand = []\n',
         "profiles.k8s-delete.pre_stop.command", "empty"),
    case("pre-stop-command-item-a-number", K8S + '[profiles.k8s-delete.pre_stop]\ncommand = ["kill", 1]\n',
         "profiles.k8s-delete.pre_stop.command", "item 2"),
    case("pre-stop-placeholder-typo", K8S + '[profiles.k8s-delete.pre_stop]\nhttp = "http://127.0.0.1:{prot}/"\n',
         "profiles.k8s-delete.pre_stop.http", "{prot}", "did you mean {port}"),

    # ---- double-ctrl-c: when the second Ctrl-C goes
    case("after-negative", DOUBLE + '[profiles.double-ctrl-c]\nafter = -1\n',
         "profiles.double-ctrl-c.after", "zero or more seconds", "-1"),
    case("after-a-string", DOUBLE + '[profiles.double-ctrl-c]\nafter = "1s"\n',
         "profiles.double-ctrl-c.after", "seconds", "string"),
    case("after-and-when", DOUBLE + HOOK_BYE + '[profiles.double-ctrl-c]\nafter = 1\nwhen = "bye"\n',
         "profiles.double-ctrl-c", "at most one", "after", "when", "both"),
    case("when-unknown-hook-typo", DOUBLE + HOOK_BYE + '[profiles.double-ctrl-c]\nwhen = "byee"\n',
         "profiles.double-ctrl-c.when", "unknown hook 'byee'", "did you mean 'bye'", "defined: bye",
         "atexit:NAME", "'atexit'"),
    case("when-unknown-hook-none-declared", DOUBLE + '[profiles.double-ctrl-c]\nwhen = "cleanup"\n',
         "profiles.double-ctrl-c.when", "unknown hook 'cleanup'", "defined: none"),
    case("when-bare-probe-prefix", DOUBLE + '[profiles.double-ctrl-c]\nwhen = "atexit:"\n',
         "profiles.double-ctrl-c.when", "unknown hook 'atexit:'"),
    case("when-not-a-string", DOUBLE + '[profiles.double-ctrl-c]\nwhen = 2\n',
         "profiles.double-ctrl-c.when", "string", "integer (2)"),
    case("when-probe-hook-with-probe-off", DOUBLE + 'probe = false\n[profiles.double-ctrl-c]\nwhen = "atexit:flush"\n',
         "profiles.double-ctrl-c.when", "'atexit:flush'", "app.probe = false"),
    case("when-any-atexit-with-probe-off", DOUBLE + 'probe = false\n[profiles.double-ctrl-c]\nwhen = "atexit"\n',
         "profiles.double-ctrl-c.when", "'atexit'", "first atexit hook", "app.probe = false", "[hooks]"),

    # ---- expect.grace_kill
    case("grace-kill-on-a-signal-path", profiles("sigterm") + '[expect.sigterm]\ngrace_kill = true\n',
         "expect.sigterm.grace_kill", "'sigterm'", "not a stop profile", "docker-stop", "heroku-stop"),
    case("grace-kill-on-a-trigger-path", profiles("os-exit") + OS_EXIT + '[expect.os-exit]\ngrace_kill = false\n',
         "expect.os-exit.grace_kill", "not a stop profile"),
    case("grace-kill-on-double-ctrl-c", DOUBLE + '[expect.double-ctrl-c]\ngrace_kill = false\n',
         "expect.double-ctrl-c.grace_kill", "double-ctrl-c never kills", "no final SIGKILL"),
    case("grace-kill-not-a-boolean", DOCKER + '[expect.docker-stop]\ngrace_kill = "yes"\n',
         "expect.docker-stop.grace_kill", "true or false", "'yes'"),
    case("grace-kill-typo", DOCKER + '[expect.docker-stop]\ngrace_kil = true\n',
         "expect.docker-stop.grace_kil", "did you mean 'grace_kill'"),

    # ---- expect.claim
    case("claim-not-a-string", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\nnot_ran = ["bye"]\nclaim = 1\n',
         "expect.sigkill.claim", "expected a string", "an integer"),
    case("claim-empty", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\nnot_ran = ["bye"]\nclaim = "  "\n',
         "expect.sigkill.claim", "is empty"),
    case("claim-checks-nothing", profiles("sigkill") + '[expect.sigkill]\nclaim = "nothing runs"\n',
         "expect.sigkill.claim", "needs something to check", "not_ran"),
    case("order-one-hook", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\norder = ["bye"]\n',
         "expect.sigkill.order", "two or more different hooks"),
    case("order-mixed-kinds", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\norder = ["bye", "atexit:x"]\n',
         "expect.sigkill.order", "one kind", "atexit:*"),
    case("order-unknown-hook", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\norder = ["bye", "byee"]\n',
         "expect.sigkill.order", "'byee'"),
    case("claim-typo", profiles("sigkill") + HOOK_BYE + '[expect.sigkill]\nclam = "x"\n',
         "expect.sigkill.clam", "did you mean 'claim'"),
]


def _check_one_line(message: str, shown: str) -> None:
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert message.startswith(shown + ": "), f"does not start with the file: {message!r}"
    assert "Traceback" not in message


def _load_bad(path: Path) -> str:
    """Load a bad file; only a ScenarioError may come out, with a one-line message."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert type(info.value) is ScenarioError
    message = str(info.value)
    _check_one_line(message, str(path))
    return message


@pytest.mark.parametrize(("text", "key", "phrases", "files"), BAD)
def test_bad_scenario(tmp_path, text, key, phrases, files):
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    path = write_scenario(tmp_path, text)
    message = _load_bad(path)
    assert message.startswith(f"{path}: {key}: "), f"expected key {key!r} in {message!r}"
    for phrase in phrases:
        assert phrase in message, f"expected {phrase!r} in {message!r}"


def test_bad_table_is_big_enough():
    assert len(BAD) >= 30
    ids = [p.id for p in BAD]
    assert len(ids) == len(set(ids))


# ---- TOML syntax errors: the real line and column

SYNTAX = [
    pytest.param('name "x"\n' + APP, 1, 6, id="missing-equals"),
    pytest.param('name = "x"\n[app\ncommand = ["{python}"]\n', 2, 5, id="unclosed-table-header"),
    pytest.param(APP + 'cwd = "."\ncwd = "."\n', 4, 10, id="key-defined-twice"),
    pytest.param(APP + '[hooks.atexit]\nlog = "\\d{3} bye"\n', 4, 8, id="regex-escape-in-basic-string"),
    pytest.param(APP + 'ready_timeout = \nstop_timeout = 5\n', 3, 17, id="missing-value"),
    pytest.param('name = "x\n' + APP, 1, 10, id="unterminated-string"),
    # The error is at the very end of the file: still a line and a column.
    pytest.param(APP + 'env = { PORT = "{port}"', 3, 24, id="unclosed-inline-table-at-eof"),
    pytest.param('paths = ["sigint",\n', 2, 1, id="unclosed-array-at-eof"),
]


@pytest.mark.parametrize(("text", "line", "column"), SYNTAX)
def test_toml_syntax_error_names_line_and_column(tmp_path, text, line, column):
    path = write_scenario(tmp_path, text)
    message = _load_bad(path)
    assert "TOML" in message
    assert re.search(rf"\bline {line}\b", message), message
    assert re.search(rf"\bcolumn {column}\b", message), message


# ---- the file itself


def test_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1") + APP.encode())
    message = _load_bad(path)
    assert "UTF-8" in message


def test_file_does_not_exist(tmp_path):
    message = _load_bad(tmp_path / "nothere.toml")
    assert "no such file" in message.lower() or "does not exist" in message


def test_file_is_a_directory(tmp_path):
    folder = tmp_path / "scenarios.toml"
    folder.mkdir()
    message = _load_bad(folder)
    assert "directory" in message or "folder" in message


def test_a_symlink_to_a_scenario_file_is_followed(tmp_path):
    real = tmp_path / "real" / "app.toml"
    real.parent.mkdir()
    real.write_text('name = "linked"\n' + APP)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert load_scenario(link).name == "linked"


def test_file_with_utf8_bom_loads(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + APP.encode())
    assert load_scenario(path).name == "bom"


def test_file_name_with_newline_still_one_line(tmp_path):
    path = tmp_path / "a\nb.toml"
    path.write_text("pathz = 1\n" + APP)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "\n" not in str(info.value)


# ---- good files


def test_minimal_scenario_defaults(tmp_path):
    path = write_scenario(tmp_path, APP, name="my-app.toml")
    s = load_scenario(path)
    assert s.name == "my-app"
    assert s.description == ""
    assert s.file == path.resolve()
    assert s.dir == tmp_path.resolve()
    assert [p.name for p in s.paths] == list(SIGNAL_PATHS)
    assert "os-exit" not in [p.name for p in s.paths]
    assert set(SIGNAL_PATHS) == {n for n, p in BUILTIN_PATHS.items()
                                 if not p.needs_trigger and not p.inject and not p.profile and not p.reload}
    assert not set(PROFILE_PATHS) & set(SIGNAL_PATHS)  # stop profiles (long graces) are opt-in
    assert not any(n.startswith("inject-") for n in SIGNAL_PATHS)  # the probe's exits are opt-in
    app = s.app
    assert app.command == ("{python}", "-c", "pass")
    assert app.cwd == tmp_path.resolve()
    assert app.env == {}
    assert app.ready is None
    assert app.ready_timeout == 15
    assert app.stop_timeout == 5
    assert app.shell is False
    assert app.unbuffered is True
    assert app.orphan_watch == 2
    assert s.hooks == {} and s.triggers == {} and s.expect == {} and s.profiles == {}


@pytest.mark.parametrize("value", ["0", "0.5", "30"])
def test_orphan_watch_takes_zero_or_more_seconds(tmp_path, value):
    s = load_scenario(write_scenario(tmp_path, APP + f"orphan_watch = {value}\n"))
    assert s.app.orphan_watch == float(value)
    assert s.with_orphan_watch(7).app.orphan_watch == 7  # run --orphan-watch


def test_default_paths_include_os_exit_when_trigger_defined(tmp_path):
    s = load_scenario(write_scenario(tmp_path, APP + OS_EXIT + '[triggers.crash]\ncommand = ["true"]\n'))
    names = [p.name for p in s.paths]
    assert names == list(SIGNAL_PATHS) + ["os-exit"]
    assert "crash" not in names  # custom triggers run only when listed


def test_custom_trigger_is_a_path(tmp_path):
    text = ('paths = ["sigterm", "crash"]\n' + APP
            + '[triggers.crash]\nhttp = "http://127.0.0.1:{port}/crash"\nmethod = "post"\n'
            + '[expect.crash]\noutcome = "exited"\nexit = 1\n')
    s = load_scenario(write_scenario(tmp_path, text))
    assert [p.name for p in s.paths] == ["sigterm", "crash"]
    crash = s.paths[1]
    assert crash.needs_trigger and crash.signal is None
    assert s.triggers["crash"].method == "POST"
    assert s.expect["crash"].exit == 1


def test_command_string_is_split_like_a_shell(tmp_path):
    text = '[app]\ncommand = "{python} -c \'import sys; print(1)\' \\"two words\\""\n'
    s = load_scenario(write_scenario(tmp_path, text))
    assert s.app.command == ("{python}", "-c", "import sys; print(1)", "two words")
    assert s.app.shell is False
    assert s.resolve(port=1, workdir="/w").argv == [sys.executable, "-c", "import sys; print(1)", "two words"]


def test_shell_command_is_kept_as_one_string(tmp_path):
    text = '[app]\nshell = true\ncommand = "exec {python} -c pass || no-such-program-4f2a"\n'
    s = load_scenario(write_scenario(tmp_path, text))
    assert s.app.command == "exec {python} -c pass || no-such-program-4f2a"
    assert s.resolve(port=1, workdir="/w").argv == [
        "/bin/sh", "-c", f"exec {sys.executable} -c pass || no-such-program-4f2a"]


def test_placeholders_resolve(tmp_path):
    text = ('paths = ["sigterm", "os-exit"]\n'
            '[app]\ncommand = ["{python}", "-c", "print({{1}})", "--port={port}"]\n'
            'env = { PORT = "{port}", STATE = "{workdir}/state", HOME_DIR = "{scenario_dir}", N = 3 }\n'
            'ready = { http = "http://127.0.0.1:{port}/health" }\n'
            '[hooks.released]\nfile = "{workdir}/released"\n'
            '[hooks.relative]\nfile = "rel-{port}"\n'
            '[triggers.os-exit]\nhttp = "http://127.0.0.1:{port}/exit"\n')
    s = load_scenario(write_scenario(tmp_path, text))
    r = s.resolve(port=4321, workdir="/tmp/case-w")
    assert r.argv == [sys.executable, "-c", "print({1})", "--port=4321"]
    assert r.env == {"PORT": "4321", "STATE": "/tmp/case-w/state", "HOME_DIR": str(tmp_path.resolve()), "N": "3"}
    assert r.ready.kind == "http" and r.ready.value == "http://127.0.0.1:4321/health"
    assert r.hook_files["released"] == "/tmp/case-w/released"
    assert r.hook_files["relative"] == os.path.join(str(tmp_path.resolve()), "rel-4321")
    assert r.triggers["os-exit"].http == "http://127.0.0.1:4321/exit"
    assert r.cwd == str(tmp_path.resolve())
    # the loaded scenario keeps its templates: each case resolves its own
    assert s.app.env["PORT"] == "{port}"


def test_log_regex_braces_are_not_placeholders(tmp_path):
    text = (APP + "ready = { log = 'HTTP \\d{3} on port \\d+' }\n"
            + "[hooks.status]\nlog = '^status (?P<code>\\d{3})$'\n")
    s = load_scenario(write_scenario(tmp_path, text))
    assert s.hooks["status"].log.pattern == r"^status (?P<code>\d{3})$"
    assert s.hooks["status"].log.search("status 200")
    r = s.resolve(port=1, workdir="/w")
    assert r.ready.value == r"HTTP \d{3} on port \d+"
    assert re.search(r.ready.value, "HTTP 200 on port 80")


def test_scenario_dir_placeholder_in_command_with_other_cwd(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "app.py").write_text("")
    text = '[app]\ncommand = ["{python}", "{scenario_dir}/app.py"]\ncwd = "sub"\n'
    s = load_scenario(write_scenario(tmp_path, text))
    r = s.resolve(port=1, workdir="/w")
    assert r.argv == [sys.executable, str(tmp_path.resolve() / "app.py")]
    assert r.cwd == str((tmp_path / "sub").resolve())


def test_relative_script_is_found_from_cwd(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "server.py").write_text("")
    s = load_scenario(write_scenario(tmp_path, '[app]\ncommand = ["{python}", "server.py"]\ncwd = "apps"\n'))
    assert s.app.cwd == (tmp_path / "apps").resolve()


def test_full_example_from_design_loads(tmp_path):
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "flask_atexit.py").write_text("")
    text = '''
name = "flask-atexit"
description = "Article 1: Flask debug server with atexit hooks"
paths = ["sigint", "sigterm", "sigkill", "sigkill-child", "os-exit"]

[app]
command = ["{python}", "apps/flask_atexit.py"]
cwd = "."
env = { PORT = "{port}" }
ready = { http = "http://127.0.0.1:{port}/" }
ready_timeout = 15
stop_timeout = 5

[hooks.atexit]
log = "Ready to close"
[hooks.atexit_done]
log = "You can doing some action"
[hooks.released]
file = "{workdir}/released"

[triggers.os-exit]
http = "http://127.0.0.1:{port}/user/Amy"

[expect.sigkill]
not_ran = ["atexit"]
[expect.sigkill-child]
ran = ["atexit"]
exit = "SIGKILL"
'''
    s = load_scenario(write_scenario(tmp_path, text))
    assert s.name == "flask-atexit"
    assert [p.name for p in s.paths] == ["sigint", "sigterm", "sigkill", "sigkill-child", "os-exit"]
    assert set(s.hooks) == {"atexit", "atexit_done", "released"}
    assert s.expect["sigkill"].not_ran == ("atexit",)
    assert s.expect["sigkill-child"].exit == "SIGKILL"


@pytest.mark.parametrize("value, expected", [
    pytest.param('tcp = "{port}"', "{port}", id="tcp-placeholder"),
    pytest.param("tcp = 8080", "8080", id="tcp-int"),
    pytest.param('tcp = "127.0.0.1:{port}"', "127.0.0.1:{port}", id="tcp-host-port"),
    pytest.param('file = "{workdir}/ready"', "{workdir}/ready", id="file"),
    pytest.param("delay = 0", 0.0, id="delay-zero"),
])
def test_ready_kinds_load(tmp_path, value, expected):
    s = load_scenario(write_scenario(tmp_path, APP + f"ready = {{ {value} }}\n"))
    assert s.app.ready.value == expected


def test_trigger_named_like_a_builtin_signal_path_is_refused(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('''
paths = ["sigterm"]
[app]
command = ["true"]
[triggers.sigterm]
http = "http://127.0.0.1:{port}/stop"
''')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: triggers.sigterm: ")
    assert "built-in signal path" in msg and "\n" not in msg


@pytest.mark.parametrize("expect, key, phrase", [
    ('ran_in = { nope = "root" }', "expect.sigterm.ran_in.nope", "unknown hook 'nope'"),
    ('ran_in = { bye = [] }', "expect.sigterm.ran_in.bye", "is empty"),
    ('ran_in = { bye = 3 }', "expect.sigterm.ran_in.bye", "list of strings"),
    ('not_ran = ["bye"]\nran_in = { bye = "root" }', "expect.sigterm.ran_in.bye", "also in not_ran"),
], ids=["undefined-hook", "empty", "wrong-type", "contradicts-not_ran"])
def test_bad_ran_in(tmp_path, expect, key, phrase):
    path = tmp_path / "r.toml"
    path.write_text(f'''
paths = ["sigterm"]
[app]
command = ["true"]
[hooks.bye]
log = "bye"
[expect.sigterm]
{expect}
''')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: {key}: ")
    assert phrase in str(info.value)


def test_probe_hooks_may_be_expected_without_a_hooks_table(tmp_path):
    s = load_scenario(write_scenario(tmp_path, 'paths = ["sigterm", "inject-sys-exit"]\n' + APP + """
[expect.sigterm]
not_ran = ["atexit:flush"]
[expect.inject-sys-exit]
ran = ["atexit:flush"]
ran_in = { "atexit:flush" = "reloader-child" }
"""))
    assert s.app.probe is None  # auto
    assert s.expect["inject-sys-exit"].ran_in == {"atexit:flush": ("reloader-child",)}
    assert [p.inject for p in s.paths] == [None, "sys-exit"]


# ---- [profiles]: good files

ALL_PROFILES = profiles(*PROFILE_PATHS)


def test_profile_settings_default_to_each_profiles_own_grace(tmp_path):
    s = load_scenario(write_scenario(tmp_path, ALL_PROFILES))
    assert s.profiles == {}
    for name in PROFILE_PATHS:
        got = s.profile_settings(name)
        assert got.grace == BUILTIN_PATHS[name].profile.grace, name
        assert got.grace_from == "default"
        assert (got.signal, got.init, got.pre_stop, got.after, got.when) == (None, "auto", None, None, None)
    assert s.profile_settings("docker-stop").grace == 10
    assert s.profile_settings("systemd-stop").grace == 90
    assert s.profile_settings("double-ctrl-c").grace is None


def test_profile_settings_refuses_a_path_that_is_not_a_profile(tmp_path):
    s = load_scenario(write_scenario(tmp_path, profiles("sigterm", "docker-stop")))
    with pytest.raises(ValueError, match="'sigterm' is not a stop profile"):
        s.profile_settings("sigterm")


def test_table_wide_grace_applies_to_every_profile_with_a_grace(tmp_path):
    text = ALL_PROFILES + '[profiles]\ngrace = 2.5\n[profiles.heroku-stop]\ngrace = 7\n'
    s = load_scenario(write_scenario(tmp_path, text))
    for name in PROFILE_PATHS:
        got = s.profile_settings(name)
        if name == "double-ctrl-c":
            assert (got.grace, got.grace_from) == (None, "default")
        elif name == "heroku-stop":  # its own table wins over the table-wide grace
            assert (got.grace, got.grace_from) == (7.0, "scenario")
        else:
            assert (got.grace, got.grace_from) == (2.5, "scenario"), name
    assert "double-ctrl-c" not in s.profiles


def test_table_wide_grace_does_not_touch_other_settings(tmp_path):
    text = profiles("docker-stop-init") + '[profiles]\ngrace = 3\n[profiles.docker-stop-init]\ninit = "tini"\n'
    got = load_scenario(write_scenario(tmp_path, text)).profile_settings("docker-stop-init")
    assert got == ProfileSettings(grace=3.0, grace_from="scenario", init="tini")


@pytest.mark.parametrize("text", [
    pytest.param('[profiles]\ngrace = 0\n', id="table-wide"),
    pytest.param('[profiles.docker-stop]\ngrace = 0\n', id="per-profile"),
])
def test_zero_grace_is_an_immediate_kill_and_allowed(tmp_path, text):
    got = load_scenario(write_scenario(tmp_path, DOCKER + text)).profile_settings("docker-stop")
    assert got.grace == 0.0 and got.grace_from == "scenario"


def test_a_profile_without_settings_keeps_its_default_next_to_a_configured_one(tmp_path):
    text = profiles("docker-stop", "systemd-stop") + '[profiles.docker-stop]\ngrace = 1\n'
    s = load_scenario(write_scenario(tmp_path, text))
    assert (s.profile_settings("docker-stop").grace, s.profile_settings("docker-stop").grace_from) == (1.0, "scenario")
    assert (s.profile_settings("systemd-stop").grace, s.profile_settings("systemd-stop").grace_from) == (90.0, "default")


@pytest.mark.parametrize("name, value", [("SIGQUIT", 3), ("SIGTERM", 15), ("SIGINT", 2), ("SIGUSR1", 10)])
def test_profile_signal_is_a_signal_name(tmp_path, name, value):
    import signal as signal_module
    text = profiles("docker-stop", "supervisor-stop") + f'[profiles.supervisor-stop]\nsignal = "{name}"\n'
    s = load_scenario(write_scenario(tmp_path, text))
    assert s.profile_settings("supervisor-stop").signal == int(signal_module.Signals[name]) == value
    assert s.profile_settings("docker-stop").signal is None  # the path's own


@pytest.mark.parametrize("path", ["docker-stop-init", "docker-stop-tini-group"])
def test_init_is_a_setting_of_both_tini_paths(tmp_path, path):
    text = profiles(path) + f'[profiles.{path}]\ninit = "builtin"\n'
    assert load_scenario(write_scenario(tmp_path, text)).profile_settings(path).init == "builtin"


@pytest.mark.parametrize("path", ["systemd-stop", "systemd-stop-mixed", "systemd-stop-process"])
def test_exec_stop_one_command_or_several(tmp_path, path):
    one = profiles(path) + f'[profiles.{path}]\nexec_stop = ["{{python}}", "stop.py", "{{port}}"]\n'
    got = load_scenario(write_scenario(tmp_path, one)).profile_settings(path)
    assert [c.command[1:2] for c in got.exec_stop] == [("stop.py",)]
    assert got.exec_stop[0].command[0] == "{python}"  # templates, filled per case
    assert got.exec_stop[0].timeout == 90.0  # each command gets TimeoutStopSec
    two = profiles(path) + f'[profiles.{path}]\ngrace = 4\nexec_stop = [["a", "1"], ["b"]]\n'
    got = load_scenario(write_scenario(tmp_path, two)).profile_settings(path)
    assert [(c.name, c.command, c.timeout) for c in got.exec_stop] == [("exec-stop", ("a", "1"), 4.0),
                                                                       ("exec-stop", ("b",), 4.0)]


@pytest.mark.parametrize("init", ["auto", "tini", "builtin"])
def test_init_kinds(tmp_path, init):
    text = profiles("docker-stop-init") + f'[profiles.docker-stop-init]\ninit = "{init}"\n'
    got = load_scenario(write_scenario(tmp_path, text)).profile_settings("docker-stop-init")
    assert got.init == init
    assert got.grace == 10.0 and got.grace_from == "default"  # init alone does not touch the grace


def test_pre_stop_http_is_a_trigger_named_pre_stop_bounded_by_the_grace(tmp_path):
    text = (K8S + '[profiles.k8s-delete]\ngrace = 12\n[profiles.k8s-delete.pre_stop]\n'
            'http = "http://127.0.0.1:{port}/drain?dir={workdir}"\nmethod = "post"\n')
    s = load_scenario(write_scenario(tmp_path, text))
    pre = s.profile_settings("k8s-delete").pre_stop
    assert pre.name == "pre-stop"
    assert pre.http == "http://127.0.0.1:{port}/drain?dir={workdir}"  # kept as a template
    assert pre.method == "POST" and pre.command is None
    assert pre.timeout == 12.0
    r = s.resolve(port=4321, workdir="/tmp/w")
    assert set(r.pre_stop) == {"k8s-delete"}
    assert r.pre_stop["k8s-delete"].http == "http://127.0.0.1:4321/drain?dir=/tmp/w"
    assert r.pre_stop["k8s-delete"].method == "POST" and r.pre_stop["k8s-delete"].name == "pre-stop"
    assert r.triggers == {}


def test_pre_stop_command_is_filled_per_case_and_uses_the_default_grace(tmp_path):
    text = K8S + '[profiles.k8s-delete.pre_stop]\ncommand = ["{python}", "-c", "print({{1}})", "{port}"]\n'
    s = load_scenario(write_scenario(tmp_path, text))
    pre = s.profile_settings("k8s-delete").pre_stop
    assert pre.command == ("{python}", "-c", "print({{1}})", "{port}") and pre.http is None
    assert pre.timeout == 30.0
    assert s.resolve(port=7, workdir="/w").pre_stop["k8s-delete"].command == (
        sys.executable, "-c", "print({1})", "7")


def test_pre_stop_timeout_follows_the_table_wide_grace(tmp_path):
    text = K8S + '[profiles]\ngrace = 4\n[profiles.k8s-delete.pre_stop]\ncommand = ["true"]\n'
    assert load_scenario(write_scenario(tmp_path, text)).profile_settings("k8s-delete").pre_stop.timeout == 4.0


def test_no_pre_stop_resolves_to_none(tmp_path):
    s = load_scenario(write_scenario(tmp_path, K8S + '[profiles.k8s-delete]\ngrace = 5\n'))
    assert s.profile_settings("k8s-delete").pre_stop is None
    assert s.resolve(port=1, workdir="/w").pre_stop == {}


def test_double_ctrl_c_after(tmp_path):
    s = load_scenario(write_scenario(tmp_path, DOUBLE + '[profiles.double-ctrl-c]\nafter = 0\n'))
    got = s.profile_settings("double-ctrl-c")
    assert got.after == 0.0 and got.when is None and got.grace is None


@pytest.mark.parametrize("extra, when, kind", [
    pytest.param(HOOK_BYE, "bye", "declared", id="declared-hook"),
    pytest.param("", "atexit:app.flush", "probe", id="probe-hook"),
    pytest.param("", "atexit", "any-atexit", id="any-atexit"),
    # a declared hook called "atexit" is that hook, even with the probe off
    pytest.param('probe = false\n[hooks.atexit]\nlog = "bye"\n', "atexit", "declared", id="declared-atexit"),
])
def test_double_ctrl_c_when(tmp_path, extra, when, kind):
    text = DOUBLE + extra + f'[profiles.double-ctrl-c]\nwhen = "{when}"\n'
    s = load_scenario(write_scenario(tmp_path, text))
    got = s.profile_settings("double-ctrl-c")
    assert got.when == when and got.after is None
    assert s.hook_kind(when) == kind


def test_grace_kill_loads_on_every_profile_that_kills(tmp_path):
    killing = [n for n in PROFILE_PATHS if BUILTIN_PATHS[n].profile.kill != "none"]
    assert "double-ctrl-c" not in killing and len(killing) == len(PROFILE_PATHS) - 1
    text = profiles(*killing) + "".join(
        f"[expect.{n}]\ngrace_kill = {'true' if i % 2 else 'false'}\n" for i, n in enumerate(killing))
    s = load_scenario(write_scenario(tmp_path, text))
    assert [s.expect[n].grace_kill for n in killing] == [bool(i % 2) for i in range(len(killing))]


def test_expectation_keeps_its_positional_fields():
    e = Expectation(("a",), ("b",), "exited", 0, False, {"a": ("root",)})
    assert e.grace_kill is None and e.ran_in == {"a": ("root",)}
    assert Expectation().grace_kill is None


def test_scenario_and_resolved_keep_their_positional_fields(tmp_path):
    s = load_scenario(write_scenario(tmp_path, DOCKER))
    bare = Scenario(s.name, s.description, s.file, s.paths, s.app, s.hooks, s.triggers)
    assert bare.profiles == {} and bare.profile_settings("docker-stop").grace == 10.0
    assert Resolved([], "/", {}, None, {}, {}).pre_stop == {}


def test_make_scenario_takes_profiles(tmp_path):
    s = make_scenario(
        "k8s", command=[sys.executable, "-c", "pass"], base_dir=tmp_path,
        paths=["k8s-delete", "double-ctrl-c"],
        profiles={"grace": 3, "k8s-delete": {"pre_stop": {"http": "http://127.0.0.1:{port}/drain"}},
                  "double-ctrl-c": {"after": 0.5}},
        expect={"k8s-delete": {"grace_kill": False}},
    )
    assert s.profile_settings("k8s-delete").grace == 3.0
    assert s.profile_settings("k8s-delete").pre_stop.timeout == 3.0
    assert s.profile_settings("double-ctrl-c").after == 0.5
    assert s.expect["k8s-delete"].grace_kill is False


def test_make_scenario_profile_errors_name_the_scenario(tmp_path):
    with pytest.raises(ScenarioError) as info:
        make_scenario("k8s", command=[sys.executable, "-c", "pass"], base_dir=tmp_path,
                      paths=["docker-stop"], profiles={"docker-stop": {"grace": -1}})
    assert str(info.value).startswith("scenario 'k8s': profiles.docker-stop.grace: ")


# ---- describe (shutdown-probe check)


def _case_line(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.startswith(f"  case {name} ")]
    assert len(found) == 1, lines
    return found[0]


def test_describe_shows_each_profiles_grace(tmp_path):
    text = (profiles("sigterm", "docker-stop", "systemd-stop", "double-ctrl-c")
            + '[profiles.docker-stop]\ngrace = 2\n[expect.docker-stop]\ngrace_kill = false\n')
    lines = describe(load_scenario(write_scenario(tmp_path, text)))
    docker = _case_line(lines, "docker-stop")
    assert docker.endswith(BUILTIN_PATHS["docker-stop"].summary + "  [grace 2 s, scenario]  [expectations]")
    assert _case_line(lines, "systemd-stop").endswith("  [grace 90 s]")
    assert "[" not in _case_line(lines, "sigterm").split(BUILTIN_PATHS["sigterm"].summary)[1]
    assert f"  case sigterm        {BUILTIN_PATHS['sigterm'].summary}" in lines  # the old format
    assert _case_line(lines, "double-ctrl-c").endswith("  [second Ctrl-C: default]")


def test_describe_shows_signal_init_and_pre_stop(tmp_path):
    text = (profiles("docker-stop-init", "k8s-delete") + '[profiles]\ngrace = 0.5\n'
            + '[profiles.docker-stop-init]\nsignal = "SIGQUIT"\ninit = "tini"\n'
            + '[profiles.k8s-delete.pre_stop]\nhttp = "http://127.0.0.1:{port}/drain"\nmethod = "POST"\n')
    lines = describe(load_scenario(write_scenario(tmp_path, text)))
    assert _case_line(lines, "docker-stop-init").endswith("  [grace 0.5 s, scenario; SIGQUIT; init tini]")
    assert _case_line(lines, "k8s-delete").endswith(
        "  [grace 0.5 s, scenario; preStop POST http://127.0.0.1:{port}/drain]")


@pytest.mark.parametrize("setting, shown", [
    pytest.param("after = 1.5", "second Ctrl-C after 1.5 s", id="after"),
    pytest.param('when = "bye"', "second Ctrl-C when bye starts", id="declared-hook"),
    pytest.param('when = "atexit:app.flush"', "second Ctrl-C when atexit:app.flush starts", id="probe-hook"),
    pytest.param('when = "atexit"', "second Ctrl-C when the first atexit hook starts", id="any-atexit"),
])
def test_describe_double_ctrl_c(tmp_path, setting, shown):
    text = DOUBLE + HOOK_BYE + f"[profiles.double-ctrl-c]\n{setting}\n"
    lines = describe(load_scenario(write_scenario(tmp_path, text)))
    assert _case_line(lines, "double-ctrl-c").endswith(f"  [{shown}]")


def test_a_claim_is_kept_with_its_checks_on_one_line(tmp_path):
    path = write_scenario(tmp_path, profiles("sigkill") + HOOK_BYE
                          + '[expect.sigkill]\nnot_ran = ["bye"]\nclaim = """bye does not run\n   on SIGKILL"""\n')
    exp = load_scenario(str(path)).expect["sigkill"]
    assert exp.claim == "bye does not run on SIGKILL"
    assert exp.not_ran == ("bye",)
