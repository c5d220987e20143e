"""Reports are written whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from shutdown_probe.files import write_atomically


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    target = tmp_path / "deep" / "er" / "r.json"
    old = os.umask(0o027)
    try:
        write_atomically(target, '{"a": 1}')
    finally:
        os.umask(old)
    assert target.read_text() == '{"a": 1}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(target.parent) == ["r.json"]  # no temporary file left


def test_a_writer_that_fails_half_way_leaves_the_old_file_and_no_litter(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old, whole")
    target.chmod(0o600)

    def half(out):
        out.write('{"cases": [')
        raise RuntimeError("killed half-way")

    with pytest.raises(RuntimeError):
        write_atomically(target, half)
    assert target.read_text() == "old, whole"
    assert os.listdir(tmp_path) == ["r.json"]
    write_atomically(target, lambda out: out.write("new"))
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # the old file's mode is kept


def test_the_file_is_replaced_not_rewritten_in_place(tmp_path):
    # a reader holding the old file keeps reading the old text: the target is a new inode
    target = tmp_path / "r.md"
    target.write_text("old")
    with open(target) as reader:
        write_atomically(target, "new text")
        assert reader.read() == "old"
    assert target.read_text() == "new text"


def test_a_pipe_named_by_path_is_written_into_not_replaced_by_a_file(tmp_path):
    # what `--compat /dev/stdout` names: /proc/self/fd/N of a pipe; renaming over it
    # would leave a regular file where the device's name was
    read, write = os.pipe()
    try:
        target = f"/proc/self/fd/{write}"
        write_atomically(target, "| a | table |\n")
        assert stat.S_ISFIFO(os.stat(target).st_mode)
        assert os.read(read, 100) == b"| a | table |\n"
        assert [p for p in os.listdir("/proc/self/fd") if p == str(write)]  # the fd is still there
    finally:
        os.close(read)
        os.close(write)


def test_a_fifo_nobody_reads_fails_at_once_instead_of_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        write_atomically(fifo, "text")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["fifo"]  # no temporary file left beside it
