"""A port lease that cannot be had is one case's error, not the run's: the other
cases still run and report.

The lease is made impossible the way ports.py can really fail: every port the
kernel may offer is already leased by someone else (here the test holds their lease
addresses), so the kernel offers TRIES taken ports in a row. That needs a small
ephemeral port range, so the run happens in a network namespace of its own (which
also keeps it from touching the leases of anything else on the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.support import ROOT

PORTS = (40000, 40003)

RUN = textwrap.dedent(f"""
    import fcntl, json, socket, struct, sys
    from shutdown_probe import expand_cases, run_cases
    from shutdown_probe.ports import lease_address
    from shutdown_probe.scenario import make_scenario

    # the namespace's loopback starts down
    with socket.socket() as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", 0x1 | 0x8 | 0x40))  # SIOCSIFFLAGS: up, loopback, running
    with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as fh:
        fh.write("{PORTS[0]} {PORTS[1]}")
    held = []
    for port in range({PORTS[0]}, {PORTS[1]} + 1):  # every port another harness could be offered
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(lease_address(port))
        held.append(s)

    def release(case, result):
        while held:
            held.pop().close()

    code = "import signal, sys; print('ready', flush=True); signal.sigwait([signal.SIGTERM])"
    sc = make_scenario(name="leased", command=[sys.executable, "-c", code], ready={{"log": "ready"}},
                       paths=["sigterm", "sigkill"], probe=False)
    results = run_cases(expand_cases([sc]), on_done=release)
    print(json.dumps([[c.path, c.outcome, c.error] for c in results.cases]))
""")


def test_a_case_without_a_port_is_an_error_of_its_own_and_the_next_case_runs(tmp_path):
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-n", "true"], capture_output=True).returncode != 0:
        if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
            pytest.skip("no network namespace can be made here (unshare -n)")
        flags = "-rn"
    else:
        flags = "-n"
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # the package of this checkout
    proc = subprocess.run([unshare, flags, sys.executable, str(script)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [first, second] = json.loads(proc.stdout.splitlines()[-1])
    assert first[:2] == ["sigterm", "error"]
    assert "could not lease a free TCP port" in first[2]
    assert second[:2] == ["sigkill", "exited"], second
