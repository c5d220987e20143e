"""The fixture example of docs/pytest-plugin.md, verbatim (test_readme.py keeps it so)."""


def test_killing_the_worker_leaves_atexit_to_the_reloader(shutdown_probe):
    result = shutdown_probe.run("scenarios/flask_atexit.toml", path="sigkill-child")
    hook = result.hooks["atexit:shutdown"]  # found by the Python probe: no [hooks] entry
    assert hook.ran
    assert hook.kinds == ["reloader-parent"]  # the parent ran it, not the worker


def test_finally_runs_on_ctrl_c_but_not_on_docker_stop(shutdown_probe):
    service = shutdown_probe.scenario(
        # relative to this test file's folder, like a scenario file's paths
        command=["{python}", "../scenarios/apps/sigterm_finally.py", "{workdir}"],
        ready={"file": "{workdir}/ready"},
        hooks={
            "finally": r"finally: resources released",  # a plain string is a log regex
            "released": {"file": "{workdir}/released"},  # or a sentinel file
        },
        paths=["ctrl-c", "sigterm"],
        stop_timeout=3,
    )
    results = shutdown_probe.run_paths(service)  # path name -> CaseResult
    assert results["ctrl-c"].hooks["finally"].ran
    assert results["ctrl-c"].hooks["released"].ran
    assert results["sigterm"].exit == {"returncode": None, "signal": "SIGTERM"}
    assert not results["sigterm"].hooks["finally"].ran  # docker stop skips `finally`
    assert not results["sigterm"].orphans
