"""What a user runs and reads: the CLI, the pytest plugin, the reports a run writes,
the articles and the benchmark script."""
