"""Fast tests that start no process: scenario parsing, results loading, renderers, the
docs contract. Marked ``unit``; tests/unit/conftest.py fails a test here that starts one."""
