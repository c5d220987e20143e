"""The test suite. Layout and how to run one area: tests/README.md."""
