"""The probe was on, a Python process of the app ran, and nothing loaded the probe
(``python -S`` skips ``site``, so sitecustomize never runs; so does a Python older than
3.8, which cannot parse it): the case says the probe's evidence is incomplete instead
of reporting every atexit hook as absent."""

from __future__ import annotations

import pytest

from shutdown_probe.scenario import make_scenario
from tests.support import TARGETS, run_path


@pytest.mark.parametrize("flags, loaded", [(["-S"], False), ([], True)])
def test_a_python_that_skipped_the_probe_is_a_note(flags, loaded):
    sc = make_scenario("unprobed", command=["{python}", *flags, str(TARGETS / "print_file_print.py"), "{workdir}",
                                            "{workdir}/sentinel"],
                       ready={"file": "{workdir}/ready"}, paths=["sigterm"])
    result = run_path(sc, "sigterm")
    assert result.outcome == "exited", (result.error, result.output_tail)
    notes = [n for n in result.probe_notes if n.kind == "not-loaded"]
    # the target registers an atexit lambda (CPython runs it after sys.exit in the handler)
    found = [h for h in result.hooks if h.startswith("atexit:")]
    if loaded:
        assert notes == [] and found, (result.probe_notes, result.hooks)
    else:
        assert len(notes) == 1 and "-S" in notes[0].detail and found == [], result.probe_notes
