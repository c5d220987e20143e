"""reading.read_regular: the one way the harness reads a file it does not control."""

from __future__ import annotations

import os
import threading

import pytest

from shutdown_probe.reading import Unreadable, read_regular


def test_a_regular_file_is_read_whole(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"0123456789")
    assert read_regular(f, 10) == (b"0123456789", False)


def test_a_file_over_the_limit_is_refused_or_cut(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"0123456789")
    with pytest.raises(Unreadable, match="larger than 9 bytes"):
        read_regular(f, 9)
    assert read_regular(f, 4, truncate=True) == (b"0123", True)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()

    def read():
        with pytest.raises(Unreadable, match="is a FIFO"):
            read_regular(fifo, 100)
        done.set()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    # A blocking open would wait for a writer for ever; give it a generous bound and
    # unblock it ourselves if it did block, so the test fails instead of hanging.
    if not done.wait(30):
        with open(fifo, "wb"):
            pass
        pytest.fail("read_regular blocked on a FIFO")


def test_dev_zero_through_a_link_is_refused(tmp_path):
    link = tmp_path / "zero"
    link.symlink_to("/dev/zero")
    with pytest.raises(Unreadable, match="character device"):
        read_regular(link, 1 << 20)
    with pytest.raises(Unreadable, match="symbolic link"):
        read_regular(link, 1 << 20, follow_links=False)


def test_a_link_to_a_regular_file_is_followed_only_when_allowed(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"data")
    link = tmp_path / "link"
    link.symlink_to(f)
    assert read_regular(link, 100) == (b"data", False)
    with pytest.raises(Unreadable, match="symbolic link"):
        read_regular(link, 100, follow_links=False)


def test_a_missing_file_is_the_usual_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "nope", 100)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(Unreadable, match="directory"):
        read_regular(tmp_path, 100)
