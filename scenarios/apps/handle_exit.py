"""``handle_exit``: make SIGTERM end a block the way Ctrl-C does, so cleanup runs.

Article 2's fix, written for Python 3 for shutdown-probe (the article shows a
published Python 2 recipe; this is an independent implementation of the behaviour
it describes)::

    with handle_exit(release_everything):
        serve_forever()          # its finally clauses now run on SIGTERM too

Rules, and why each one exists:

1. **SIGTERM becomes ``sys.exit(0)``.** Python installs no SIGTERM handler, so the
   kernel's default action kills the process and no ``finally`` clause, context
   manager exit or atexit hook runs. A handler that raises ``SystemExit`` turns the
   signal into an exception in the main thread; the exception unwinds the stack like
   any other, so every ``finally`` runs. Exit status 0, because a stop that was asked
   for (``docker stop``, ``kill``) and completed its cleanup is a success.

2. **The callback runs exactly once, whatever ends the block** (normal end, SIGTERM,
   Ctrl-C, any exception), after the block's own ``finally`` clauses. It is called
   from this manager's own ``finally``, which is reached once per ``with``.

3. **``KeyboardInterrupt`` and a zero ``SystemExit`` are swallowed.** Both mean
   "stop, as asked": after cleanup, the program continues after the ``with`` and
   ends normally, so the atexit hooks run and the exit status is 0. A zero
   ``SystemExit`` is ``sys.exit(0)``, ``sys.exit()`` (code ``None``) or the one the
   SIGTERM handler raises; they cannot be told apart, and all mean success.

4. **A non-zero ``SystemExit`` is re-raised.** ``sys.exit(3)`` or
   ``sys.exit("bad config")`` reports an application error; swallowing it would turn
   a failure into a success. The callback still runs first.

5. **Another SIGTERM handler already installed → ``RuntimeError``, unless
   ``append=True``.** Replacing it silently would drop someone else's shutdown logic
   (a framework's, a library's). With ``append=True`` both run: the new handler
   first (it requests the exit), then the old one, called from the new one's
   ``finally`` while ``SystemExit`` is already on its way, so the old handler runs
   even though the new one raised. ``SIG_DFL`` and ``SIG_IGN`` are not handlers:
   there is nothing to lose, and they are put back afterwards. A handler installed
   outside Python (``signal.getsignal`` returns ``None``) can be neither called nor
   restored from Python, so it is refused even with ``append=True``.

6. **Nesting → ``RuntimeError``.** The inner block would find the outer block's
   handler installed and either refuse it or chain it, so one SIGTERM would unwind
   both blocks and run the callbacks in a surprising order. One process-wide
   SIGTERM handler needs one owner.

7. **The previous SIGTERM handler is restored on exit, always** (in ``finally``,
   also when the block raised, also when the callback raised). The handler is only
   valid while the block runs: a ``SystemExit`` raised after the block would
   bypass the cleanup this manager exists for, and code after the block is entitled
   to the disposition it had before.

8. **Main thread only.** Python runs signal handlers in the main thread and
   ``signal.signal`` refuses to be called from any other; say so clearly.

While the callback runs the handler is still installed: a second SIGTERM then
raises ``SystemExit(0)`` inside the callback, which cuts the callback short but
still unwinds through the outer ``finally`` clauses (with the default action the
kernel would end the process with no cleanup at all).
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

__all__ = ["handle_exit"]

_NOT_HANDLERS = (signal.SIG_DFL, signal.SIG_IGN)

# True while a handle_exit block is running (rule 6).
_active = False


def _exit_on_sigterm(signum, frame):
    """Rule 1: turn SIGTERM into an ordinary, zero SystemExit in the main thread."""
    raise SystemExit(0)


def _then(first, second):
    """A handler running ``first``, then ``second`` even though ``first`` raises."""

    def handler(signum, frame):
        try:
            first(signum, frame)
        finally:
            second(signum, frame)

    return handler


def _is_success(exc: SystemExit) -> bool:
    # sys.exit(), sys.exit(0) and sys.exit(False) all end a process with status 0.
    return exc.code is None or exc.code == 0


class handle_exit:
    """Run the block with SIGTERM turned into ``sys.exit(0)``; see the module docstring.

    ``callback``: called with no arguments, exactly once, when the block ends.
    ``append``: keep an already installed SIGTERM handler, running it after ours.
    """

    def __init__(self, callback: Callable[[], object] | None = None, append: bool = False) -> None:
        self.callback = callback
        self.append = append
        self._previous = None
        self._entered = False

    def __enter__(self) -> "handle_exit":
        global _active
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("handle_exit() must be used in the main thread: "
                               "Python runs signal handlers only there")
        if _active:
            raise RuntimeError("handle_exit() blocks cannot be nested")
        previous = signal.getsignal(signal.SIGTERM)
        if previous is None:
            raise RuntimeError("a SIGTERM handler installed outside Python is active; "
                               "it can be neither chained nor restored")
        handler = _exit_on_sigterm
        if previous not in _NOT_HANDLERS:
            if not self.append:
                raise RuntimeError(f"a SIGTERM handler is already installed ({previous!r}); "
                                   "pass append=True to run it after ours")
            handler = _then(_exit_on_sigterm, previous)
        self._previous = previous
        _active = True
        self._entered = True
        try:
            signal.signal(signal.SIGTERM, handler)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if self.callback is not None:
                self.callback()
        finally:
            self._restore()
        if exc_type is None:
            return False
        if issubclass(exc_type, KeyboardInterrupt):
            return True
        if issubclass(exc_type, SystemExit):
            return _is_success(exc)
        return False

    def _restore(self) -> None:
        global _active
        if not self._entered:
            return
        self._entered = False
        try:
            signal.signal(signal.SIGTERM, self._previous)
        finally:
            _active = False
            self._previous = None
