"""The [services] table: processes the app needs beside it (a broker, a database),
each started by the harness before the app, with a port of its own.

    [services.redis]
    command = ["redis-server", "--port", "{port}", "--save", "", "--appendonly", "no"]
    ready = { tcp = "127.0.0.1:{port}" }
    scope = "run"          # or "case"

In a service's own strings ``{port}`` is its port and ``{workdir}`` a private folder
of its own; ``{services.NAME.port}`` names any service's port, in every templated
string of the scenario. A service of scope "run" lives longer than any case, so it
cannot name the port of a service of scope "case".
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from .checks import Checker, seg
from .parse_app import check_executable, parse_ready, parse_side_process
from .specs import (DEFAULT_SERVICE_READY_TIMEOUT, DEFAULT_SERVICE_STOP_TIMEOUT, SERVICE_KEYS, SERVICE_SCOPES,
                    ServiceSpec)
from .templates import SERVICE_NAME_RE, service_refs


def service_names(c: Checker, services: dict[str, Any]) -> tuple[str, ...]:
    """The names of the [services.NAME] tables, each one a placeholder can hold."""
    for name in services:
        if not SERVICE_NAME_RE.fullmatch(name):
            raise c.fail(f"services.{seg(name)}", "expected a service name of 1 to 50 letters, digits, '_' or '-' "
                                                  "(it stands in {services.NAME.port})", value=name)
    return tuple(services)


def parse_services(c: Checker, services: dict[str, Any], base: FsPath) -> dict[str, ServiceSpec]:
    """[services], for a scenario file in folder ``base``; ``c.services`` must already
    hold their names (:func:`service_names`), so that they may name each other."""
    out = {name: _parse_service(c, name, c.table(raw, f"services.{name}"), base) for name, raw in services.items()}
    for spec in out.values():
        if spec.scope != "run":
            continue
        for template, key in _templates(spec):
            for other in service_refs(template):
                if out[other].scope == "case":
                    raise c.fail(f"services.{spec.name}.{key}",
                                 f"{{services.{other}.port}} names a service of scope \"case\", which a service of "
                                 f"scope \"run\" outlives; give {other} scope \"run\" too", value=template)
    return out


def _parse_service(c: Checker, name: str, table: dict[str, Any], base: FsPath) -> ServiceSpec:
    where = f"services.{name}"
    c.keys(table, SERVICE_KEYS, where)
    command, cwd, env = parse_side_process(c, table, where, "service", '["redis-server", "--port", "{port}"]',
                                           base)
    ready = parse_ready(c, table["ready"], f"{where}.ready") if "ready" in table else None
    ready_timeout = c.seconds(table.get("ready_timeout", DEFAULT_SERVICE_READY_TIMEOUT), f"{where}.ready_timeout")
    stop_timeout = c.seconds(table.get("stop_timeout", DEFAULT_SERVICE_STOP_TIMEOUT), f"{where}.stop_timeout")
    scope = c.one_of(table.get("scope", "run"), SERVICE_SCOPES, f"{where}.scope", hint=True)
    check_executable(c, command, cwd, env, base, where)
    return ServiceSpec(name, command, cwd, env, ready, ready_timeout, stop_timeout, scope)


def _templates(spec: ServiceSpec) -> list[tuple[str, str]]:
    """Every template of a service, with the key it came from."""
    out = [(a, "command") for a in spec.command]
    out += [(v, f"env.{seg(k)}") for k, v in spec.env.items()]
    if spec.ready is not None and spec.ready.kind != "log" and isinstance(spec.ready.value, str):
        out.append((spec.ready.value, f"ready.{spec.ready.kind}"))
    return out
