"""The output capture on real pipes: draining, floods, bounded tails."""

from __future__ import annotations

import fcntl
import os
import threading

from shutdown_probe.output import MAX_LINE, TAIL_LINES, OutputCapture

F_SETPIPE_SZ = 1031


def pipe(size: int = 1 << 20) -> tuple[int, int]:
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, size)
    except OSError:
        pass
    return r, w


def test_position_counts_what_is_written_even_while_the_reader_lags():
    r, w = pipe()
    n = 20000
    data = b"".join(b"line %d\n" % i for i in range(n))
    os.write(w, data)  # fits in the enlarged pipe: all of it is written before reading starts
    release = threading.Event()
    seen = []

    def slow(line):  # a subscriber that holds the reader back until the test says so
        release.wait(10)
        seen.append(line)

    cap = OutputCapture({"stdout": r})
    cap.subscribe(slow)
    cap.start()
    assert cap.position() == {"stdout": len(data)}  # exact, though almost nothing is read yet
    assert len(seen) < n
    os.write(w, b"after the mark\n")
    release.set()
    os.close(w)
    assert cap.finish(10.0)
    mark = len(data)
    before = [line for line in seen if line.end <= mark]
    after = [line for line in seen if line.end > mark]
    assert len(before) == n and before[-1].text == "line %d" % (n - 1)
    assert [line.text for line in after] == ["after the mark"]
    assert after[0].end == len(data) + len(b"after the mark\n")


def test_lines_are_numbered_per_stream_and_the_tail_is_bounded():
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cap = OutputCapture({"stdout": out_r, "stderr": err_r})
    got = []
    cap.subscribe(lambda line: got.append((line.stream, line.number, line.text)))
    cap.start()
    os.write(out_w, b"".join(b"o%d\n" % i for i in range(1, 201)))
    os.write(err_w, b"e1\ne2\npartial")
    os.close(out_w)
    os.close(err_w)
    assert cap.finish(5.0)
    assert ("stdout", 200, "o200") in got
    assert ("stderr", 3, "partial") in got  # a last line without newline is kept
    tail = cap.tail().splitlines()
    # each stream's last TAIL_LINES: all three of stderr's, stdout's last ones
    assert len(tail) == TAIL_LINES + 3
    assert [t for t in tail if t.startswith("o")] == [f"o{i}" for i in range(201 - TAIL_LINES, 201)]
    assert [t for t in tail if t.startswith("[stderr]")] == ["[stderr] e1", "[stderr] e2", "[stderr] partial"]


def test_a_flood_on_stdout_does_not_push_the_stderr_traceback_out_of_the_tail():
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    cap = OutputCapture({"stdout": out_r, "stderr": err_r})
    seen = threading.Event()
    cap.subscribe(lambda line: seen.set() if line.text == "ValueError: boom" else None)
    cap.start()
    os.write(out_w, b"before\n")
    os.write(err_w, b"Traceback (most recent call last):\nValueError: boom\n")
    assert seen.wait(5), "the capture never read stderr"

    def flood():
        for i in range(0, 50_000, 1000):
            os.write(out_w, b"".join(b"flood %d\n" % n for n in range(i, i + 1000)))
        os.close(out_w)

    writer = threading.Thread(target=flood)
    writer.start()
    os.close(err_w)
    writer.join(10)
    assert cap.finish(5.0)
    tail = cap.tail().splitlines()
    assert tail[:2] == ["[stderr] Traceback (most recent call last):", "[stderr] ValueError: boom"]
    assert tail[2:] == [f"flood {n}" for n in range(50_000 - TAIL_LINES, 50_000)]


def test_a_line_without_newlines_is_cut_into_bounded_pieces():
    r, w = os.pipe()
    cap = OutputCapture({"stdout": r})
    lengths = []
    cap.subscribe(lambda line: lengths.append(len(line.text)))
    cap.start()
    total = MAX_LINE * 5 + 123

    def writer():
        for i in range(0, total, 8192):
            os.write(w, b"z" * min(8192, total - i))
        os.close(w)

    t = threading.Thread(target=writer)
    t.start()
    t.join()
    assert cap.finish(5.0)
    assert max(lengths) == MAX_LINE
    assert sum(lengths) == total
    assert cap.position() == {"stdout": total}


def test_caught_up_waits_until_what_was_written_is_handed_out():
    r, w = pipe()
    os.write(w, b"first\nready\n")
    release = threading.Event()
    seen = []

    def slow(line):  # holds the reader back until released
        release.wait(10)
        seen.append(line.text)

    cap = OutputCapture({"stdout": r})
    cap.subscribe(slow)
    cap.start()
    written = cap.position()
    assert not cap.caught_up(written, 0.0) and seen == []
    threading.Thread(target=release.set).start()
    assert cap.caught_up(written, 10.0)
    assert seen == ["first", "ready"]
    os.close(w)
    assert cap.finish(10.0)
    assert cap.caught_up(cap.position(), 0.0)  # stopped at EOF: nothing left to wait for


def test_a_log_ready_line_printed_just_before_the_exit_counts():
    # The app prints its ready line and exits; the harness sees the exit while the reader
    # has not yet handed the line to the ready check (here: held back by an earlier
    # subscriber until the exit is seen). The line was written first: the app was ready.
    from shutdown_probe.patterns import compile_regex
    from shutdown_probe.readiness import LogWatcher, wait_ready
    from shutdown_probe.scenario import ReadyCheck

    r, w = pipe()
    os.write(w, b"booting\nserving on 8000\n")
    os.close(w)
    regex = compile_regex("serving on")
    release = threading.Event()
    cap = OutputCapture({"stdout": r})
    cap.subscribe(lambda line: release.wait(10))
    watch = LogWatcher(regex, 1)
    cap.subscribe(watch, regex)
    cap.start()

    def root_alive():
        release.set()  # the exit is seen now, before the line reached the check
        return False

    try:
        seen = wait_ready(ReadyCheck("log", "serving on", regex=regex), timeout=10, root_fd=None,
                          root_alive=root_alive, capture=cap, log_watch=watch)
    finally:
        watch.close()
        cap.finish(10.0)
    assert seen.ready, seen.detail
