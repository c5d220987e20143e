"""The soak test (marked ``slow``): hundreds of hostile cases in one harness process,
checking that nothing grows or leaks."""
