"""The exceptions shutdown-probe raises.

    ProbeError                  base: everything below
    ├── ScenarioError           the user's scenario file is wrong (exit status 2)
    ├── ResultsError            a results JSON file is not one the harness wrote (exit status 2)
    │                           (also a ValueError)
    ├── UsageError              the calling code passed the library a wrong argument
    │   │                       (also a ValueError, as these were before it existed)
    │   └── runner.TooManyCases more cases asked for than one run holds
    └── HarnessError            the harness itself could not do its job

A user's mistake is a ScenarioError whose ``str`` is one line naming the file, the
key and what was expected; the CLI prints exactly that line and exits with 2. The
error also carries those parts apart (``file``, ``key``, ``value``, ``allowed``) for
code that wants them. A UsageError is a mistake in the code calling the library
(an unknown path name given to ``Scenario.profile_settings``, say), not in a file.
Things that go wrong while a case runs (an app that never gets ready, a command that
crashes) are *results*, not exceptions: they end up in ``CaseResult.outcome``.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base class of every error shutdown-probe raises on purpose."""


class _FileError(ProbeError):
    """A file the user gave is wrong: one line naming the file, the key and why."""

    def __init__(self, file: str, key: str | None, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + message)


class ScenarioError(_FileError):
    """A scenario file is malformed; the message is one line, ready to print.

    ``value`` is the offending value as the file gave it (a key's name for an unknown
    key), or None when the mistake is not one value (a missing table, a file that is
    not TOML); ``allowed`` is what would have been accepted there, when that is a
    short list of names (``READY_KINDS``, the hooks declared...), else None.
    """

    def __init__(self, file: str, key: str | None, message: str, *, value: object = None,
                 allowed: tuple[str, ...] | None = None) -> None:
        super().__init__(file, key, message)
        self.value = value
        self.allowed = allowed


class ResultsError(_FileError, ValueError):
    """A results JSON file is malformed; the message is one line naming the file and
    the key path (e.g. ``cases[3].hooks``), ready to print. A ValueError too, as
    ``Results.from_dict`` raised before it existed."""


class UsageError(ProbeError, ValueError):
    """The library was called wrongly (an unknown name, an argument of the wrong kind);
    the message says what is accepted. A ValueError too, as these mistakes raised
    ValueError before it existed."""


class HarnessError(ProbeError):
    """The harness could not do what it needs (e.g. no free port, no /proc)."""
