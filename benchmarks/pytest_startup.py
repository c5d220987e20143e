"""What the pytest plugin costs a project that has no scenario.

Installing shutdown-probe loads its plugin into every pytest session on the machine.
This times plain ``pytest`` in a throwaway project (one trivial test and a
pyproject.toml) with the plugin on and with ``-p no:shutdown_probe``, and the same
project with many unrelated ``.toml`` files beside it::

    python benchmarks/pytest_startup.py                      # 30 pairs per project
    python benchmarks/pytest_startup.py --runs 60 --unrelated 2000

Each pair runs both arms back to back, in an order that alternates from one pair to
the next, so a drift in the machine's speed lands on both alike; one unrecorded
warm-up run of each arm comes first (bytecode caches, with ``--bytecode cached``). Every run is a fresh
``python -m pytest -q -p no:cacheprovider`` (what a user types, interpreter start
included), timed from the parent around the whole process; a run that does not end
with its one test passed stops the benchmark. Each run's CPU time (user + system, as
the kernel charged it when the process was reaped) is shown too: on a busy machine
it moves much less than the wall time, which also counts the waits for a core.

The figures per project: each arm's median and quartiles, and the paired difference
(on minus off, per pair): its median, with a 95 % confidence interval for that
median from the order statistics (distribution-free: it needs no normal noise, which
a shared machine does not give). An interval that holds 0 is no measurable cost.

``-X importtime`` then shows what the plugin imported during a session, and what
importing its entry module costs by itself. Set ``PYTHONPATH`` to a checkout to
measure another version of the plugin (the projects live in a temporary folder, so
the current folder is not on ``sys.path``).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEST = "def test_trivial():\n    assert True\n"
PYPROJECT = '[project]\nname = "bench-app"\nversion = "1.0"\n'
# An application's ordinary configuration: no scenario, no marker.
UNRELATED = '[server]\nhost = "127.0.0.1"\nport = {port}\n\n[logging]\nlevel = "info"\n'


def make_project(root: Path, unrelated: int) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "test_trivial.py").write_text(TEST)
    if unrelated:
        configs = root / "configs"
        configs.mkdir()
        for i in range(unrelated):
            (configs / f"service_{i:04d}.toml").write_text(UNRELATED.format(port=8000 + i))
    return root


def command(python: str, plugin: bool) -> list[str]:
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *([] if plugin else ["-p", "no:shutdown_probe"])]


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Bytecode: an installed package has its caches (pip writes them at install time);
# an editable install, or one made without them (uv's default), with
# PYTHONDONTWRITEBYTECODE set (as on many CI images and containers) compiles every
# module it imports on every run, and then the figure is mostly the compiler's.
# --bytecode measures either or both: "cached" lets the warm-up run write the caches,
# in a private folder (PYTHONPYCACHEPREFIX) so nothing is left in the installation and
# an uncached run stays uncached; "none" sets PYTHONDONTWRITEBYTECODE=1.
BYTECODE = ("cached", "none")


def bytecode_env(mode: str, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if mode == "cached":
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


ENV: dict[str, str] = {}  # set by main() for the mode being measured


def run_once(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """The run's wall time, and the CPU time (user + system) the kernel charged to it."""
    cpu = cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or "1 passed" not in done.stdout:
        sys.exit(f"{' '.join(cmd)} in {cwd}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return elapsed, cpu_of_children() - cpu


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval for the median: the k-th smallest and
    k-th largest values, k the largest with P(Binomial(n, 1/2) < k) <= (1 - level) / 2."""
    n = len(values)
    s = sorted(values)
    tail = (1 - level) / 2
    k, below = 0, 0.0
    while True:
        nxt = below + math.comb(n, k) / 2 ** n  # P(X <= k)
        if nxt > tail:
            break
        below = nxt
        k += 1
    k = max(k, 1)  # too few pairs for the level: the whole range
    return s[k - 1], s[n - k]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def measure(name: str, root: Path, python: str, runs: int) -> dict:
    on_cmd, off_cmd = command(python, True), command(python, False)
    print(f"\n{name}: {root}")
    print(f"  on:  {' '.join(on_cmd)}")
    print(f"  off: {' '.join(off_cmd)}")
    run_once(on_cmd, root), run_once(off_cmd, root)  # warm-up, not counted
    on, off = [], []
    for i in range(runs):
        order = ((on, on_cmd), (off, off_cmd)) if i % 2 == 0 else ((off, off_cmd), (on, on_cmd))
        for samples, cmd in order:
            samples.append(run_once(cmd, root))
    figures = {}
    for what, k in (("wall time", 0), ("CPU time", 1)):
        a, b = [s[k] for s in on], [s[k] for s in off]
        diffs = [x - y for x, y in zip(a, b)]
        low, high = median_interval(diffs)
        print(f"  {what}:")
        for label, samples in (("plugin on ", a), ("plugin off", b)):
            print(f"    {label}: median {ms(statistics.median(samples))}, quartiles "
                  f"{ms(quantile(samples, 0.25))} - {ms(quantile(samples, 0.75))}, "
                  f"min {ms(min(samples))}, max {ms(max(samples))}  ({len(samples)} runs)")
        print(f"    on - off, paired: median {ms(statistics.median(diffs))}, 95 % interval of the median "
              f"{ms(low)} .. {ms(high)}, quartiles {ms(quantile(diffs, 0.25))} - {ms(quantile(diffs, 0.75))}"
              f"  ({len(diffs)} pairs)")
        figures[what] = {"on": a, "off": b, "diffs": diffs}
    return figures


def _session_imports(python: str, root: Path, plugin: bool) -> list[str]:
    done = subprocess.run([python, "-X", "importtime", *command(python, plugin)[1:]], cwd=root, env=ENV,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return [ln for ln in done.stderr.splitlines() if ln.startswith("import time:")]


def _top_level_owners(timed: list[str]) -> list[str]:
    """For each ``-X importtime`` line, the top-level import it happened under:
    importtime prints a module after the modules it imported, one level less
    indented, so the owner is the next line with no indent at all."""
    owners: list[str] = [""] * len(timed)
    owner = ""
    for i in range(len(timed) - 1, -1, -1):
        field = timed[i].rsplit("|", 1)[-1][1:]  # one space follows the bar
        if not field.startswith(" "):
            owner = field.strip()
        owners[i] = owner
    return owners


def importtime(python: str, root: Path) -> None:
    """The modules the plugin brought into a session, and its entry module's own cost."""
    print(f"\n-X importtime, plugin on, in {root} (modules imported under shutdown_probe's own imports):")
    # (importtime only times `import` statements: the entry point itself, loaded
    # by importlib, is timed by the second command below)
    heavy = ("shutdown_probe", "regex", "requests", "psutil", "rich")
    timed = _session_imports(python, root, True)
    owners = _top_level_owners(timed)
    lines = [ln for ln, owner in zip(timed, owners)
             if ln.rsplit("|", 1)[-1].strip().split(".")[0] in heavy and owner.startswith("shutdown_probe")]
    for ln in lines:
        print("  " + ln)
    if not lines:
        print("  (none of: " + ", ".join(heavy) + ")")
    others = sorted({owner for ln, owner in zip(timed, owners)
                     if ln.rsplit("|", 1)[-1].strip().split(".")[0] in heavy[1:]
                     and not owner.startswith("shutdown_probe")})
    if others:  # another installed plugin (pytest-xprocess imports psutil): not ours to count
        print("  (imported by other plugins, not counted: " + ", ".join(others) + ")")
    code = "import pytest; import shutdown_probe.pytest_plugin"
    for _ in range(2):  # the first run may compile and cache the bytecode: show the second
        done = subprocess.run([python, "-X", "importtime", "-c", code], cwd=root, env=ENV,
                              capture_output=True, text=True)
    print(f"\n{python} -X importtime -c {code!r}: after pytest itself,")
    after = done.stderr.splitlines()
    start = max(i for i, ln in enumerate(after) if ln.rstrip().endswith("| pytest")) + 1
    for ln in after[start:]:
        print("  " + ln)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="pairs per project (default 30)")
    parser.add_argument("--unrelated", type=int, default=2000,
                        help="unrelated .toml files in the second project (default 2000; 0 skips it)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose pytest to time")
    parser.add_argument("--bytecode", choices=(*BYTECODE, "both"), default="both",
                        help="cached: bytecode caches written by the warm-up run (an ordinary installation); "
                             "none: PYTHONDONTWRITEBYTECODE=1, every uncached module compiled on every run; "
                             "both (the default): one after the other")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{os.cpu_count()} CPUs; {args.python}")
    modes = BYTECODE if args.bytecode == "both" else (args.bytecode,)
    with tempfile.TemporaryDirectory(prefix="pytest-startup-") as tmp:
        plain = make_project(Path(tmp) / "plain", 0)
        many = make_project(Path(tmp) / "many", args.unrelated) if args.unrelated else None
        for mode in modes:
            ENV.clear()
            ENV.update(bytecode_env(mode, Path(tmp) / "pycache"))
            print(f"\n=== bytecode: {mode}")
            measure("one trivial test and a pyproject.toml", plain, args.python, args.runs)
            if many is not None:
                measure(f"the same with {args.unrelated} unrelated .toml files", many, args.python, args.runs)
            importtime(args.python, plain)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
