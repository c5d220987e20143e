"""Scenario files: TOML in, a validated :class:`Scenario` out.

Validation happens once, here, so that the runner can trust what it gets. Every
mistake becomes a :class:`~shutdown_probe.errors.ScenarioError` whose message is one
line naming the file, the key and what was expected.

Placeholders (``{python}``, ``{port}``, ``{workdir}``, ``{scenario_dir}``) stay in the
loaded strings; :meth:`Scenario.resolve` fills them per case, because ``{port}`` and
``{workdir}`` differ between cases. Log regexes are never templated, so ``\\d{3}`` in a
regex means what it says; they are checked and compiled by
:mod:`shutdown_probe.patterns`, the regex engine the run-time readers use too.

This module is the face of the package; the modules behind it, lowest first:

    templates.py       placeholders, and quoting them into a shell command
    specs.py           the schema: each table's keys, the defaults, the values tables become
    resolution.py      per case: the templates filled (Resolved, TrafficPlan)
    model.py           Scenario, what the runner gets
    checks.py          the validation toolkit: Checker, did_you_mean, shared checks
    parse_app.py       [app]: command, environment, folder, readiness, timeouts
    parse_triggers.py  [hooks], [triggers], their actions, and paths
    parse_profiles.py  [profiles]
    parse_traffic.py   [traffic]
    parse_services.py  [services]
    parse_verify.py    [verify]
    parse_expect.py    [expect]
    loading.py         the ways in: a TOML file, a mapping, keyword arguments
    from_command.py    a command line's options (`run -- CMD`) as the mapping a file holds
    describe.py        the text `shutdown-probe check` prints

The regex names below (``REGEX_TIMEOUT``, ``compile_regex``...) are re-exported from
:mod:`shutdown_probe.patterns`; to change the timeout (a test), set it there.
"""

from __future__ import annotations

from ..patterns import REGEX_MAX_SIZE, REGEX_TIMEOUT, RegexProblem, compile_regex, line_matcher, regex_timeout_note
from .checks import Checker, did_you_mean
from .describe import describe
from .loading import MAX_FILE_BYTES, load_scenario, make_scenario, parse_scenario, read_scenario_bytes, read_toml
from .model import Scenario
from .parse_expect import parse_expectation
from .resolution import Resolved, ResolvedService, ResolvedVerify, TrafficPlan
from .specs import (ALIVE_KINDS, AIM_KEYS, AIM_TARGETS, ANY_ATEXIT, APP_KEYS, DEFAULT_ORPHAN_WATCH,
                    DEFAULT_READY_TIMEOUT, DEFAULT_STOP_TIMEOUT, DEFAULT_SURVIVE_AFTER, EXPECT_KEYS, HOOK_KEYS,
                    HTTP_METHODS, INIT_KINDS, MAX_SECONDS, OUTCOMES,
                    PRE_STOP_KEYS, PROBE_HOOK_PREFIX, PROFILE_COMMON_KEYS, PROFILE_OWN_KEYS, READY_KINDS, SERVICE_KEYS,
                    SERVICE_SCOPES, TOP_KEYS, TRAFFIC_KEYS, TRIGGER_KEYS, VERIFY_KEYS, AimSpec, AliveCheck, AppSpec,
                    Expectation, HookSpec, ProfileSettings, ReadyCheck, ServiceSpec, TrafficSpec, TriggerSpec,
                    VerifySpec, KeyTable, key_tables)
from .templates import PLACEHOLDERS, ShellQuoting, service_port, shell_contexts, shell_quote, substitute, substitute_shell

__all__ = [
    "AIM_KEYS",
    "AIM_TARGETS",
    "ALIVE_KINDS",
    "ANY_ATEXIT",
    "APP_KEYS",
    "AimSpec",
    "AliveCheck",
    "AppSpec",
    "Checker",
    "DEFAULT_ORPHAN_WATCH",
    "DEFAULT_READY_TIMEOUT",
    "DEFAULT_STOP_TIMEOUT",
    "DEFAULT_SURVIVE_AFTER",
    "EXPECT_KEYS",
    "Expectation",
    "HOOK_KEYS",
    "HTTP_METHODS",
    "HookSpec",
    "INIT_KINDS",
    "KeyTable",
    "MAX_FILE_BYTES",
    "MAX_SECONDS",
    "OUTCOMES",
    "PLACEHOLDERS",
    "PRE_STOP_KEYS",
    "PROBE_HOOK_PREFIX",
    "PROFILE_COMMON_KEYS",
    "PROFILE_OWN_KEYS",
    "ProfileSettings",
    "READY_KINDS",
    "REGEX_MAX_SIZE",
    "REGEX_TIMEOUT",
    "ReadyCheck",
    "RegexProblem",
    "Resolved",
    "ResolvedService",
    "ResolvedVerify",
    "SERVICE_KEYS",
    "SERVICE_SCOPES",
    "Scenario",
    "ServiceSpec",
    "ShellQuoting",
    "TOP_KEYS",
    "TRAFFIC_KEYS",
    "TRIGGER_KEYS",
    "TrafficPlan",
    "TrafficSpec",
    "TriggerSpec",
    "VERIFY_KEYS",
    "VerifySpec",
    "compile_regex",
    "describe",
    "did_you_mean",
    "key_tables",
    "line_matcher",
    "load_scenario",
    "make_scenario",
    "parse_expectation",
    "parse_scenario",
    "read_scenario_bytes",
    "read_toml",
    "regex_timeout_note",
    "service_port",
    "shell_contexts",
    "shell_quote",
    "substitute",
    "substitute_shell",
]
