"""How long the reports take for a large run: HTML, Markdown and the terminal matrix.

    python benchmarks/render_time.py RESULTS.json --cases 1000,2000 --repeats 3 --out FILE.json

Loads a results file from a real run and repeats its cases (each copy a distinct
case: its run number goes up) until there are N, then times each renderer on the
same Results object, in this process, ``--repeats`` times per size, keeping the
fastest (the least disturbed by the rest of the machine), in wall and in CPU time.
Two sizes show whether the time grows linearly: the ratio of the times should be
about the ratio of the sizes.
Loading and writing files are not timed: only the rendering.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path


def grown(results, n: int):
    """``results`` with its cases repeated (run numbers renumbered) to ``n`` cases."""
    base = results.cases
    if not base:
        raise SystemExit("the results file has no case to repeat")
    cases = []
    for i in range(n):
        case = base[i % len(base)]
        cases.append(dataclasses.replace(case, run=i // len(base) + 1) if hasattr(case, "run") else case)
    return dataclasses.replace(results, cases=cases)


def fastest(render, repeats: int) -> tuple[float, float]:
    """The fastest wall time of ``repeats`` renders, and the least CPU time (this
    process's, which a busy machine stretches far less than the wall time)."""
    wall = cpu = float("inf")
    for _ in range(repeats):
        began, began_cpu = time.perf_counter(), time.process_time()
        render()
        wall = min(wall, time.perf_counter() - began)
        cpu = min(cpu, time.process_time() - began_cpu)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path)
    p.add_argument("--cases", default="1000,2000", help="sizes, comma-separated")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    from shutdown_probe.render import format_html, format_markdown, format_terminal
    from shutdown_probe.results import load_results

    source = load_results(args.results)
    renderers = {"html": format_html, "markdown": format_markdown,
                 "terminal": lambda r: format_terminal(r, width=160)}
    figures: dict[str, dict[str, float]] = {}
    cpu: dict[str, dict[str, float]] = {}
    for n in (int(x) for x in args.cases.split(",")):
        results = grown(source, n)
        timed = {name: fastest(lambda f=f: f(results), args.repeats) for name, f in renderers.items()}
        figures[str(n)] = {name: t[0] for name, t in timed.items()}
        cpu[str(n)] = {name: t[1] for name, t in timed.items()}
        print(f"{n} cases: " + ", ".join(f"{k} {w * 1000:.0f} ms (CPU {c * 1000:.0f} ms)"
                                         for k, (w, c) in timed.items()), flush=True)
    args.out.write_text(json.dumps({"repeats": args.repeats, "seconds": figures, "cpu_seconds": cpu}, indent=1)
                        + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
