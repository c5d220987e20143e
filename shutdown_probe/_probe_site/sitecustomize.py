"""shutdown-probe's in-target probe: Python's ``site`` imports it at start-up.

The harness puts this folder first on ``PYTHONPATH`` and names an events file in
``SHUTDOWN_PROBE_EVENTS``. Every Python process of a case then appends one JSON line per
event to that file, each with one ``os.write`` on an ``O_APPEND`` descriptor, so a line
written just before a SIGKILL survives and concurrent processes never interleave:

* ``start``       the process began (``how`` = "exec", or "fork" in a forked child, whose
                  argv, executable and environment are left null: its parent's);
* ``register``    ``atexit.register`` was called (``id``, ``name``, ``where``, ``stdlib``);
* ``unregister``  ``atexit.unregister`` removed the registration ``id``;
* ``hook-start``, ``hook-end``  an atexit callable began / returned or raised;
* ``signal``      ``signal.signal`` was called (``signum``, ``signal``, ``handler``, ``where``);
* ``finalize``    ``threading._shutdown`` ran: the first step of interpreter finalization
                  (in a process that imported threading: the probe patches it on import);
* ``atexit-done`` the probe's own atexit callable, registered first so it runs last;
* ``atexit-clear`` ``atexit._clear()`` dropped every registration (3.13's fork children);
* ``excepthook``  an unhandled exception reached ``sys.excepthook``;
* ``inject``      the inject signal arrived (only with ``SHUTDOWN_PROBE_INJECT``);
                  ``stack``: where the main thread was, innermost frame first.

The harness starts it through ``loader/sitecustomize.py``, from code compiled once per run.

Rules: stdlib only; nothing is ever printed; no thread is started; nothing is imported
that the app would not import (threading is patched when the app imports it); no signal
disposition changes unless ``SHUTDOWN_PROBE_INJECT`` asks for one; any failure of the
probe disables it silently; without ``SHUTDOWN_PROBE_EVENTS`` it does nothing at all.
In every case it then runs the app's own ``sitecustomize`` (the next one on
``sys.path``) as the module ``sitecustomize``; an error there propagates, so ``site``
reports it exactly as it would without the probe.
"""

import os
import sys

# Type comments, not annotations: this file also runs in targets older than the harness.
TYPE_CHECKING = False
if TYPE_CHECKING:  # only the type checker imports typing (it costs every target start-up time)
    from typing import Any

_EVENTS_ENV = "SHUTDOWN_PROBE_EVENTS"
_INJECT_ENV = "SHUTDOWN_PROBE_INJECT"
_INJECT_SIGNAL_ENV = "SHUTDOWN_PROBE_INJECT_SIGNAL"
_INJECT_ACTIONS = ("os-exit", "sys-exit", "exception", "segfault", "abort")

_path = None  # the events file
_fd = -1  # its descriptor; -1 = the probe is off
_ident = None  # (st_dev, st_ino) of what _fd refers to
_monotonic = None  # type: Any  # time.monotonic, bound at install (the probe is off until then)
_next_id = 0
_hooks = []  # type: list[_Hook]  # the live registrations
_stdlib_dirs = None
_stdlib_cache = {}  # type: dict[str, bool]
_signal_names = None  # type: dict[int, str] | None
_signal_names_rt = (None, None)  # type: tuple[int | None, int | None]
_inject_action = None
_started = False  # start-up is over: other threads may exist from now on


# ---------------------------------------------------------------- writing

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _jstr(s):
    """A JSON string literal, pure ASCII (``json`` itself costs an import of ``re``)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is None:
            o = ord(ch)
            if 0x20 <= o < 0x7F:
                esc = ch
            elif o < 0x10000:
                esc = "\\u%04x" % o
            else:
                o -= 0x10000
                esc = "\\u%04x\\u%04x" % (0xD800 | (o >> 10), 0xDC00 | (o & 0x3FF))
        out.append(esc)
    return '"' + "".join(out) + '"'


def _jval(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, float):
        return float.__repr__(v) if v == v and v not in (float("inf"), float("-inf")) else "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join([_jval(x) for x in v]) + "]"
    return _jstr(v if isinstance(v, str) else str(v))


def _emit(ev, fields=(), t=None):
    """Append one event line; never raises an Exception (a KeyboardInterrupt from a
    signal handler that happens to run meanwhile must still reach the app)."""
    if _fd < 0:
        return
    try:
        if t is None:
            t = _monotonic()
        parts = ['{"ev":', _jstr(ev), ',"pid":', str(os.getpid()), ',"t":', float.__repr__(t)]
        for key, value in fields:
            parts.append(',"' + key + '":' + _jval(value))
        parts.append("}\n")
        _write("".join(parts).encode("ascii"))
    except Exception:
        pass


def _write(data):
    global _fd
    fd = _fd
    try:
        st = os.fstat(fd)
        ok = (st.st_dev, st.st_ino) == _ident
    except OSError:
        ok = False
    if not ok:
        # The app closed our descriptor (a daemon closing every fd) and maybe reused
        # the number for a file of its own: never write there; reopen ours instead.
        if not _open(_path):
            _fd = -1
            return
    os.write(_fd, data)


def _open(path):
    global _fd, _ident
    # The app can replace the file: opening a FIFO to write blocks until a reader
    # comes (O_NONBLOCK fails at once instead), and a link may point anywhere
    # (O_NOFOLLOW). Anything but a regular file switches the probe off.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags, 0o644)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if st.st_mode & 0o170000 != 0o100000:  # S_ISREG without importing stat
            raise OSError("not a regular file")
    except OSError:
        os.close(fd)
        return False
    _fd, _ident = _park(fd), (st.st_dev, st.st_ino)
    return True


# High descriptor numbers for the events file, tried in turn (the first one under the
# process's RLIMIT_NOFILE that is free).
_PARK_AT = (1023, 255, 63)


def _park(fd):
    """``fd`` moved out of the app's way: to a free high number, or left where it is.

    ``open`` returns the lowest free number, so a descriptor the probe kept low would
    shift every descriptor the app opens afterwards by one. That is observable: Celery's
    prefork pool keeps its children's pipes in a ``set`` of descriptor numbers, whose
    order decides which child gets the first task, and one extra descriptor made the
    first child get it instead of the second. At start-up (one thread) a free number
    is found with ``fstat`` and taken with ``dup2``; on a reopen, when other threads may
    open descriptors meanwhile, with ``F_DUPFD_CLOEXEC``, which is atomic."""
    for target in _PARK_AT:
        if target <= fd:
            return fd
        try:
            if _started:
                import fcntl
                moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, target)
            else:
                try:
                    os.fstat(target)
                    continue  # the app's (inherited): never touched
                except OSError:
                    pass
                moved = os.dup2(fd, target, inheritable=False)
        except (OSError, ImportError, AttributeError):
            continue  # above the limit (EBADF, EINVAL): a lower one
        os.close(fd)
        return moved
    return fd


# ---------------------------------------------------------------- describing

def _name(func):
    """``module.qualname`` of a callable; partials, bound methods, lambdas and
    callable objects get a readable name too."""
    try:
        if type(func).__name__ == "partial" and callable(getattr(func, "func", None)):
            return "functools.partial(" + _name(func.func) + ")"
        qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
        if isinstance(qualname, str):
            module = getattr(func, "__module__", None)
        else:  # a callable object: what runs is its class's __call__
            cls = type(func)
            qualname, module = cls.__qualname__ + ".__call__", cls.__module__
        if module == "_signal":
            module = "signal"
        return module + "." + qualname if isinstance(module, str) and module else qualname
    except Exception:
        try:
            return repr(func)
        except Exception:
            return "?"


def _type_name(cls):
    """``ValueError``; ``module.Qualname`` outside builtins (as tracebacks print it)."""
    try:
        name = cls.__qualname__
        module = cls.__module__
        return name if module == "builtins" else module + "." + name
    except Exception:
        return "?"


def _message(exc):
    try:
        return str(exc)
    except Exception:
        return "<unprintable>"


def _exc_text(exc):
    """``ExcType: message``, or ``ExcType`` alone when the message is empty."""
    msg = _message(exc)
    return _type_name(type(exc)) + ": " + msg if msg else _type_name(type(exc))


def _caller(frame, skip_module=None):
    """(``file:line``, stdlib?) of ``frame``, after skipping frames of ``skip_module``."""
    while frame is not None and skip_module and frame.f_globals.get("__name__") == skip_module:
        frame = frame.f_back
    if frame is None:
        return None, False
    filename = frame.f_code.co_filename
    return "%s:%d" % (filename, frame.f_lineno), _is_stdlib(filename)


def _is_stdlib(filename):
    """Whether ``filename`` lies under the standard library: sysconfig's ``stdlib`` and
    ``platstdlib`` paths (computed the way sysconfig does, without importing it),
    excluding any site-packages below them; frozen stdlib modules count too."""
    global _stdlib_dirs
    hit = _stdlib_cache.get(filename)
    if hit is not None:
        return hit
    if filename.startswith("<frozen "):
        hit = True
    else:
        if _stdlib_dirs is None:
            ver = "python%d.%d" % sys.version_info[:2]
            libdir = getattr(sys, "platlibdir", "lib")
            dirs = {os.path.dirname(os.__file__)}
            for base in (sys.base_prefix, sys.base_exec_prefix):
                dirs.add(os.path.join(base, libdir, ver))
            _stdlib_dirs = tuple({os.path.realpath(d) + os.sep for d in dirs})
        real = os.path.realpath(filename)
        parts = real.split(os.sep)
        hit = real.startswith(_stdlib_dirs) and "site-packages" not in parts and "dist-packages" not in parts
    _stdlib_cache[filename] = hit
    return hit


def _signal_name(signum):
    global _signal_names, _signal_names_rt
    if _signal_names is None:
        import _signal  # type: ignore[import-not-found]  # the C module behind signal has no stub
        best = {}  # type: dict[int, str]
        for key, value in vars(_signal).items():
            if key.startswith("SIG") and not key.startswith("SIG_") and key.isupper() and isinstance(value, int):
                # signal.Signals keeps the smallest name of an alias pair (SIGABRT, not SIGIOT)
                if value not in best or key < best[value]:
                    best[value] = key
        _signal_names = best
        _signal_names_rt = (getattr(_signal, "SIGRTMIN", None), getattr(_signal, "SIGRTMAX", None))
    name = _signal_names.get(signum)
    if name is None:
        lo, hi = _signal_names_rt
        if lo is not None and hi is not None and lo < signum < hi:
            name = "SIGRTMIN+%d" % (signum - lo)
    return name


def _handler_name(handler):
    if isinstance(handler, int):
        return {0: "SIG_DFL", 1: "SIG_IGN"}.get(int(handler), int.__repr__(handler))
    if handler is None:
        return None
    return _name(handler)


# ---------------------------------------------------------------- atexit

class _Hook:
    """What the real atexit holds instead of the app's callable: it reports the call.

    Its repr is the callable's, so "Exception ignored in atexit callback: <function
    ...>" reads as it would without the probe.
    """

    __slots__ = ("id", "name", "func", "args", "kwargs")

    def __init__(self, hook_id, name, func, args, kwargs):
        self.id, self.name, self.func, self.args, self.kwargs = hook_id, name, func, args, kwargs

    def __call__(self):
        _emit("hook-start", (("id", self.id), ("name", self.name)))
        t0 = _monotonic()
        try:
            self.func(*self.args, **self.kwargs)
        except BaseException as exc:
            self._end(t0, exc)
            tb = exc.__traceback__
            if tb is not None and tb.tb_frame.f_code is _HOOK_CALL_CODE:
                # drop this frame: the traceback atexit prints is the one it printed
                # without the probe (Python 3.11+ re-raises from __traceback__)
                exc.__traceback__ = tb.tb_next
            raise
        self._end(t0, None)

    def _end(self, t0, exc):
        try:
            t = _monotonic()
            error = None if exc is None else _exc_text(exc)
            _emit("hook-end", (("id", self.id), ("name", self.name), ("error", error), ("dur", t - t0)), t)
        except Exception:
            pass

    def __repr__(self):
        return repr(self.func)


_HOOK_CALL_CODE = _Hook.__call__.__code__


def _patch_atexit():
    import atexit

    real_register, real_unregister, real_clear = atexit.register, atexit.unregister, atexit._clear

    def register(func, /, *args, **kwargs):
        global _next_id
        if not callable(func):
            return real_register(func, *args, **kwargs)  # the real TypeError
        try:
            _next_id += 1
            hook = _Hook(_next_id, _name(func), func, args, kwargs)
            where, stdlib = _caller(sys._getframe(1))
        except Exception:
            return real_register(func, *args, **kwargs)
        real_register(hook)
        _hooks.append(hook)
        _emit("register", (("id", hook.id), ("name", hook.name), ("where", where), ("stdlib", stdlib)))
        return func

    def unregister(func, /):
        removed = []
        for hook in list(_hooks):
            if hook.func is func or hook.func == func:  # atexit.unregister compares with ==
                real_unregister(hook)
                _hooks.remove(hook)
                removed.append(hook)
        real_unregister(func)  # anything registered behind the probe's back
        if removed:
            try:
                where, _ = _caller(sys._getframe(1))
            except Exception:
                where = None
            for hook in removed:
                _emit("unregister", (("id", hook.id), ("name", hook.name), ("where", where)))

    def _clear():
        # multiprocessing's fork children call it (3.13+) to drop what they inherited
        real_clear()
        del _hooks[:]
        real_register(_atexit_done)
        try:
            where, stdlib = _caller(sys._getframe(1))
        except Exception:
            where, stdlib = None, False
        _emit("atexit-clear", (("where", where), ("stdlib", stdlib)))

    for new, old in ((register, real_register), (unregister, real_unregister), (_clear, real_clear)):
        new.__name__, new.__qualname__, new.__doc__ = old.__name__, old.__qualname__, old.__doc__
        new.__module__, new.__wrapped__ = "atexit", old  # type: ignore[union-attr]  # functools.wraps-style attributes on a function
        new.__shutdown_probe__ = True  # type: ignore[union-attr]
    # first registered, so it runs last: every app callable has run (or hung) before it
    real_register(_atexit_done)
    atexit.register, atexit.unregister, atexit._clear = register, unregister, _clear


def _atexit_done():
    _emit("atexit-done")


# ---------------------------------------------------------------- signal, threading, excepthook

def _patch_signal():
    # _signal.signal, not signal.signal: signal.signal calls _signal.signal, so one
    # patch sees both without importing signal (and enum) at start-up.
    import _signal

    real_signal = _signal.signal

    def signal(signalnum, handler, /):
        try:
            old = real_signal(signalnum, handler)
        except BaseException as exc:
            _record_signal(signalnum, handler, sys._getframe(1), exc)
            tb = exc.__traceback__
            if tb is not None and tb.tb_frame.f_code is signal.__code__:
                exc.__traceback__ = tb.tb_next
            raise
        _record_signal(signalnum, handler, sys._getframe(1), None)
        return old

    signal.__name__, signal.__qualname__, signal.__doc__ = "signal", "signal", real_signal.__doc__
    signal.__module__, signal.__wrapped__ = "_signal", real_signal  # type: ignore[attr-defined]  # functools.wraps-style attributes on a function
    _signal.signal = signal


def _record_signal(signalnum, handler, frame, exc):
    try:
        signum = int(signalnum)
        where, stdlib = _caller(frame, skip_module="signal")
        _emit("signal", (("signum", signum), ("signal", _signal_name(signum)), ("handler", _handler_name(handler)),
                         ("where", where), ("stdlib", stdlib), ("error", None if exc is None else _exc_text(exc))))
    except Exception:
        pass


def _patch_threading():
    # Py_FinalizeEx calls sys.modules["threading"]._shutdown() before the atexit
    # callables (only if threading was imported: without it there is no thread to wait
    # for); multiprocessing's children call it from Python too (``caller``). Importing
    # threading here would cost every process ~2 ms; it is patched when the app imports it.
    threading = sys.modules.get("threading")
    if threading is not None:
        _patch_shutdown(threading)
    else:
        sys.meta_path.insert(0, _ThreadingWatch())


class _ThreadingWatch:
    """A finder first on ``sys.meta_path`` that finds nothing: when ``threading`` is
    imported, it asks the finders behind it for its spec and has that module's loader
    patch ``_shutdown`` once the module has run. Inert after that."""

    armed = True

    def find_spec(self, name, path=None, target=None):
        if name != "threading" or not self.armed:
            return None
        self.armed = False
        try:
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
            else:
                return None
            loader = spec.loader
            real_exec = loader.exec_module
            if isinstance(loader, type):
                return None  # a class (frozen, builtin): its method is everyone's, not patched
        except Exception:
            return None

        def exec_module(module):
            real_exec(module)
            del loader.exec_module  # the loader's own method again
            try:
                _patch_shutdown(module)
            except Exception:
                pass

        loader.exec_module = exec_module
        return spec

    def invalidate_caches(self):
        pass


def _patch_shutdown(threading):
    real_shutdown = threading._shutdown  # private: the function the interpreter calls at exit

    def _shutdown():
        try:
            try:
                where, _ = _caller(sys._getframe(1))
            except ValueError:  # no Python frame: the interpreter itself is finalizing
                where = None
            _emit("finalize", (("caller", where),))
        except Exception:
            pass
        return real_shutdown()

    _shutdown.__wrapped__ = real_shutdown  # type: ignore[attr-defined]  # functools.wraps-style attributes on a function
    _shutdown.__doc__ = real_shutdown.__doc__
    threading._shutdown = _shutdown


def _patch_excepthook():
    previous = sys.excepthook

    def excepthook(exc_type, exc_value, exc_tb, /):
        try:
            _emit("excepthook", (("type", _type_name(exc_type)), ("message", _message(exc_value))))
        except Exception:
            pass
        return previous(exc_type, exc_value, exc_tb)

    excepthook.__name__ = excepthook.__qualname__ = getattr(previous, "__name__", "excepthook")
    excepthook.__doc__, excepthook.__wrapped__ = getattr(previous, "__doc__", None), previous  # type: ignore[attr-defined]  # functools.wraps-style attributes on a function
    if sys.__excepthook__ is previous:
        # keep ``sys.excepthook is sys.__excepthook__`` true (libraries test it), and
        # see the hooks that chain to sys.__excepthook__
        sys.__excepthook__ = excepthook
    sys.excepthook = excepthook


# ---------------------------------------------------------------- fork, inject, start

def _start(how):
    _emit("start", (("ppid", os.getppid()), ("argv", _argv()), ("how", how),
                    ("werkzeug_run_main", os.environ.get("WERKZEUG_RUN_MAIN")),
                    ("run_main", os.environ.get("RUN_MAIN")), ("executable", sys.executable)))


def _argv():
    # sys.argv does not exist yet while site runs; the kernel's copy does
    try:
        fd = os.open("/proc/self/cmdline", os.O_RDONLY | os.O_CLOEXEC)
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if data.endswith(b"\0"):
            data = data[:-1]
        # bytes that are not UTF-8 become U+FFFD: the events are JSON, read into
        # reports that must stay valid UTF-8
        return [arg.decode("utf-8", "replace") for arg in data.split(b"\0")]
    except Exception:
        return [a.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                for a in getattr(sys, "orig_argv", [])]


# The rest of a forked child's start event: its argv, executable and environment are its
# parent's (the harness takes them from the parent's start event).
_FORK_TAIL = ',"argv":null,"how":"fork","werkzeug_run_main":null,"run_main":null,"executable":null}\n'


def _after_fork_in_child():
    # As little as possible: this runs in every forked child before the app's own code
    # does (no /proc read, no JSON building); the whole event is ~30 us of the child's time.
    if _fd < 0:
        return
    try:
        line = '{"ev":"start","pid":%d,"t":%r,"ppid":%d' % (os.getpid(), _monotonic(), os.getppid())
        _write((line + _FORK_TAIL).encode("ascii"))
    except Exception:
        pass


def _stack(frame, limit=12):
    """``file:line function`` of ``frame`` and its callers, innermost first."""
    out = []  # type: list[str]
    try:
        while frame is not None and len(out) < limit:
            code = frame.f_code
            out.append("%s:%d %s" % (code.co_filename, frame.f_lineno, code.co_name))
            frame = frame.f_back
    except Exception:
        pass
    return out


def _inject(signum, frame):
    action = _inject_action
    # An exception raised here surfaces wherever the main thread was; an
    # ``except Exception`` around that point may catch it, and the report says where.
    _emit("inject", (("action", action), ("signum", signum), ("stack", _stack(frame))))
    if action == "os-exit":
        os._exit(0)
    elif action == "sys-exit":
        raise SystemExit(0)
    elif action == "exception":
        raise RuntimeError("shutdown-probe injected exception")
    elif action == "segfault":
        try:
            import ctypes
            ctypes.string_at(0)  # a real memory fault: reads address 0
        except Exception:
            pass
        import _signal
        _signal.signal(_signal.SIGSEGV, _signal.SIG_DFL)
        os.kill(os.getpid(), _signal.SIGSEGV)
    elif action == "abort":
        os.abort()


def _install_inject():
    global _inject_action
    action = os.environ.get(_INJECT_ENV)
    if action not in _INJECT_ACTIONS:
        return
    try:
        signum = int(os.environ[_INJECT_SIGNAL_ENV])
    except (KeyError, ValueError):
        return
    import _signal
    _inject_action = action
    _signal.signal(signum, _inject)  # the real one: patched afterwards, so not reported


def _install(path):
    global _path, _monotonic, _started
    import atexit

    if getattr(atexit.register, "__shutdown_probe__", False):
        return  # already installed in this interpreter (a re-import)
    from time import monotonic

    _monotonic = monotonic
    _path = path
    if not _open(path):
        return
    try:
        _start("exec")
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _install_inject()
        _patch_atexit()
        _patch_threading()
        _patch_signal()
        _patch_excepthook()
    except Exception:
        _disable()
    _started = True


def _disable():
    global _fd
    fd, _fd = _fd, -1
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass


# ---------------------------------------------------------------- chaining

def _chain():
    """Run the app's own sitecustomize (the next on sys.path) as ``sitecustomize``."""
    try:
        st = os.stat(os.path.dirname(os.path.abspath(__file__)))
        here = (st.st_dev, st.st_ino)  # type: tuple[int, int] | None
    except (OSError, NameError):
        here = None
    paths = []
    for entry in sys.path:
        try:
            st = os.stat(entry or os.curdir)
            if (st.st_dev, st.st_ino) == here:
                continue
        except (OSError, TypeError, ValueError):
            pass
        paths.append(entry)
    try:
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import PathFinder
    except ImportError:
        from importlib.machinery import PathFinder
        from importlib.util import module_from_spec
    spec = PathFinder.find_spec("sitecustomize", paths)
    if spec is None:
        return
    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module  # `import sitecustomize` gets the app's module
    spec.loader.exec_module(module)  # type: ignore[union-attr]  # PathFinder specs always have a loader; its errors propagate: site reports them as usual


_events = os.environ.get(_EVENTS_ENV)
if _events:
    try:
        _install(_events)
    except Exception:
        _disable()
del _events
_chain()
