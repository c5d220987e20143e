"""The process layer and the case pipeline against real processes: tiny targets from
tests/targets/, real signals, real pipes and sockets."""
