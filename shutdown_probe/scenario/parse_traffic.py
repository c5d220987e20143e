"""The [traffic] table: HTTP requests in flight when the path fires, and new ones after."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ..paths import Path
from ..patterns import shown
from .checks import Checker, number, value_kind
from .specs import TRAFFIC_KEYS, TrafficSpec


def parse_traffic(c: Checker, table: dict[str, Any], paths: tuple[Path, ...]) -> TrafficSpec:
    c.keys(table, TRAFFIC_KEYS, "traffic")
    if "url" not in table:
        raise c.fail("traffic.url", "missing: expected the URL of a slow endpoint, "
                                    "e.g. \"http://127.0.0.1:{port}/slow\"")

    def url(key: str) -> str:
        text = c.template(table[key], f"traffic.{key}")
        if not re.match(r"http://", text):
            raise c.fail(f"traffic.{key}",
                         f"expected an http:// URL (the traffic speaks plain HTTP), got {shown(text)}", value=text)
        c.url(text, f"traffic.{key}")
        return text

    defaults = TrafficSpec(url="")  # the field defaults, stated once, in TrafficSpec

    def count(key: str) -> int:
        value = table.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int):
            raise c.fail(f"traffic.{key}", f"expected a whole number, got {value_kind(value)}",
                         value=value)
        if not 0 <= value <= 1000:
            raise c.fail(f"traffic.{key}", f"expected a whole number from 0 to 1000, got {number(value)}",
                         value=value)
        return value

    new_url: str | None = None
    if "new_url" in table:
        new_url = "" if table["new_url"] == "" else url("new_url")

    def seconds(key: str, **kw: bool) -> float:
        return c.seconds(table.get(key, getattr(defaults, key)), f"traffic.{key}", **kw)

    spec = TrafficSpec(
        url=url("url"), in_flight=count("in_flight"), queued=count("queued"), new_url=new_url,
        concurrency=count("concurrency"), interval=seconds("interval", zero_ok=True),
        max_new=count("max_new"), window=seconds("window"), timeout=seconds("timeout"),
        accept_timeout=seconds("accept_timeout"), method=c.method(table, "traffic"),
    )
    if spec.in_flight + spec.queued == 0 and not spec.sends_new:
        raise c.fail("traffic", "sends no request at all: set in_flight, queued, or new requests "
                                "(concurrency and max_new above 0)")
    if "paths" in table:
        names = [p.name for p in paths]
        chosen = c.string_list(table["paths"], "traffic.paths")
        if not chosen:
            raise c.fail("traffic.paths", "is empty: leave it out to send traffic on every path")
        for name in chosen:
            c.name_in(name, names, "traffic.paths", "path")
        spec = dataclasses.replace(spec, paths=tuple(chosen))
    return spec
