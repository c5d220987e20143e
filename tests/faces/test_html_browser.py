"""The HTML report in a real browser: headless Chromium renders it, and the rendered
page is checked (the matrix's cells are in the DOM the browser built, the screenshot
is a picture and not a blank page).

Skipped, with the reason, when no Chromium is installed; `.ci/run` installs Debian's
`chromium-headless-shell` so CI runs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from shutdown_probe.render.html import format_html
from shutdown_probe.results import CaseResult, HookResult, Orphan, ProcessRecord, Results

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no headless browser installed (looked for {', '.join(BROWSERS)}; "
                "on Debian: apt-get install chromium-headless-shell)")


def _chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the browser in its own session; on a timeout, end its whole process tree."""
    argv = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the browser did not finish within {timeout} s")
    finally:
        try:  # helpers (zygote, GPU process) it may have left in its session
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(argv, proc.returncode, out.decode(errors="replace"),
                                       err.decode(errors="replace"))


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes], int]:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG: (width, height, rows, bytes a pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def _sample() -> Results:
    """Two cases, one with an orphan, and output a page must not execute."""
    hostile = '</pre><script>document.body.innerHTML="owned"</script><b>bold?</b>'
    cases = [
        CaseResult(scenario="demo", path="sigterm", outcome="exited", exit={"returncode": 0, "signal": None},
                   duration_s=0.25, root_exit_s=0.25, trigger={"signal": "SIGTERM", "to": "root", "pid": 10},
                   hooks={"atexit": HookResult(True, "stdout line 2: bye", pids=[10], roles=["root"], at_s=0.2)},
                   processes=[ProcessRecord(10, "root", "python app.py", returncode=0, exit_known=True,
                                            ended_after_s=0.25)],
                   output_tail=f"ready\nbye\n{hostile}"),
        CaseResult(scenario="demo", path="sigkill", outcome="exited", exit={"returncode": None, "signal": "SIGKILL"},
                   root_exit_s=0.01, trigger={"signal": "SIGKILL", "to": "root", "pid": 20},
                   hooks={"atexit": HookResult(False, "no output line matched 'bye'")},
                   processes=[ProcessRecord(20, "root", "python app.py", signal="SIGKILL", exit_known=True,
                                            ended_after_s=0.01),
                              ProcessRecord(21, "child", "python app.py --child", signal="SIGKILL",
                                            exit_known=True, ended_after_s=3.0, killed_by_harness=True)],
                   orphans=[Orphan(21, "python app.py --child", "child", [5000], True)]),
    ]
    return Results(cases=cases, scenarios={"demo": "a demo"}, tool="shutdown-probe 0.1.0",
                   environment={"python": "3.11.7", "platform": "Linux"})


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    _browser()
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(format_html(_sample()), encoding="utf-8")
    return path


@pytest.mark.timeout(120)
def test_the_browser_builds_the_matrix_and_runs_nothing_from_the_output(page):
    done = _chromium("--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    # had the target's <script> run, the body would be the word "owned" and nothing else
    assert '&lt;script&gt;document.body.innerHTML="owned"&lt;/script&gt;' in dom  # shown as text
    assert "<b>bold?</b>" not in dom
    for text in ("sigterm", "sigkill", "✓", "✗", "rc 0", "SIGKILL", "bye"):
        assert text in dom, text


@pytest.mark.timeout(120)
def test_the_screenshot_is_a_picture_not_a_blank_page(page, tmp_path):
    shot = tmp_path / "shot.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    width, height, rows, bpp = _png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1600)
    # every other pixel: a ✗ glyph is a few pixels of red, which a coarser grid can miss
    colours = {row[x:x + 3] for row in rows[::2] for x in range(0, width * bpp, bpp * 2)}
    background = rows[0][:3]
    inked = sum(1 for row in rows[::4] for x in range(0, width * bpp, bpp * 4) if row[x:x + 3] != background)
    assert len(colours) > 8, f"only {len(colours)} colours: a blank or one-colour page"
    assert inked > 500, f"only {inked} sampled pixels differ from the background"
    # the matrix's colours: some green (ran) and some red (did not run) are on the page
    assert any(g > r + 40 and g > b + 40 for r, g, b in colours), "no green on the page"
    assert any(r > g + 60 and r > b + 60 for r, g, b in colours), "no red on the page"
