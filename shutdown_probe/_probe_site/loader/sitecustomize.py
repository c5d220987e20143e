"""shutdown-probe's loader: Python's ``site`` imports it at start-up in every process of a case.

It runs the probe (``../sitecustomize.py``) in this module, from code compiled once per
run and interpreter instead of from source at every start (a target that cannot write
bytecode, ``PYTHONDONTWRITEBYTECODE=1``, would otherwise compile 650 lines each time).

``SHUTDOWN_PROBE_CODE`` names ``DIR/KEY``: ``DIR`` is a folder the harness made for the
run (mode 0700), ``KEY`` the hash of the probe's source, whose copy is ``DIR/KEY.py``.
The code for an interpreter is ``DIR/KEY.<cache_tag>``: marshal data behind a magic line.
An interpreter that finds none compiles the copy and writes it (a temporary file renamed
into place). Nothing is read from or written to a folder that is not a directory owned by
this process's user and closed to everyone else, nor from a file that is not a regular
file of that user; any problem, or a file that does not load as code, means compiling the
probe's source as if there were no cache. Nothing is ever written anywhere else.
"""

import os
import sys

_CODE_ENV = "SHUTDOWN_PROBE_CODE"
_MAGIC = b"shutdown-probe code 1\n"


def _private(st, kind):
    """``st`` is a ``kind`` (the S_IFMT bits) of this user that no one else may write."""
    return st.st_mode & 0o170000 == kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _read(path):
    """The bytes of ``path`` if it is a private regular file, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not _private(st, 0o100000) or st.st_size > 1 << 22:
            return None
        chunks = []  # type: list[bytes]
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)


def _write(path, data):
    """``data`` into ``path`` in one step (written aside, renamed into place)."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _cached(prefix, source):
    """The probe's code from the run's cache (compiled and stored there on a miss), or
    None when the cache cannot be used."""
    tag = sys.implementation.cache_tag
    if not tag:
        return None
    try:
        if not _private(os.lstat(os.path.dirname(prefix)), 0o040000):
            return None
    except (OSError, ValueError):
        return None
    import marshal
    path = prefix + "." + tag
    data = _read(path)
    if data is not None and data.startswith(_MAGIC):
        try:
            code = marshal.loads(memoryview(data)[len(_MAGIC):])
        except Exception:
            code = None
        if type(code) is type(_cached.__code__):
            return code
    text = _read(prefix + ".py")
    if text is None:
        return None
    code = compile(text, source, "exec", dont_inherit=True)
    _write(path, _MAGIC + marshal.dumps(code))
    return code


def _load():
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sitecustomize.py")
    prefix = os.environ.get(_CODE_ENV)
    code = None
    if prefix:
        try:
            code = _cached(prefix, source)
        except Exception:
            code = None
    if code is None:
        with open(source, "rb") as f:
            code = compile(f.read(), source, "exec", dont_inherit=True)
    return code


_code = _load()
del _private, _read, _write, _cached, _load  # the probe's own names take over this module
exec(_code, globals())
del _code
