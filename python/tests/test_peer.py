"""tlbsim against its SimPy peer (benches/peers/default_simpy.py), an
independent model of the `default` scenario's queueing (no TLB).

Needs simpy: skipped with a printed reason without it, required under
CI=true (.ci/run installs it). About 10 s.
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

PEER = ROOT / "benches" / "peers" / "default_simpy.py"
IOS = 5000
LIKE_FOR_LIKE = ["--set", "background.enabled=false", "--set", "host.shootdown_scope=all"]

if importlib.util.find_spec("simpy") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("simpy is required under CI=true (.ci/run installs it)", pytrace=False)
    pytest.skip("simpy is not installed (python3 -m pip install simpy): the peer cannot run",
                allow_module_level=True)


def tlbsim_run(cli, policy, *extra):
    out = cli("run", "default", "--policies", policy, "--set", f"stop.ios={IOS}", *extra, "--json")
    return json.loads(out.stdout)["runs"][0]


def peer_run(policy):
    out = subprocess.run([sys.executable, str(PEER), "--policy", policy, "--ios", str(IOS)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_like_for_like_configuration_keeps_the_io_statistics(cli):
    # The peer is compared with tlbsim without the background workload but
    # with the dirty mask it fills: the I/O path must not notice.
    for policy in ["global", "percpu"]:
        plain = tlbsim_run(cli, policy)
        alike = tlbsim_run(cli, policy, *LIKE_FOR_LIKE)
        assert plain["latency_cycles"] == alike["latency_cycles"]
        assert plain["throughput"] == alike["throughput"]
        assert plain["ipis"]["per_io"] == alike["ipis"]["per_io"]
        # Every shootdown reaches the 7 other CPUs; a shootdown whose IPIs
        # straddle the window's start or end is counted in part.
        want = 7.0 if policy == "global" else 0.0
        assert abs(plain["ipis"]["per_io"] - want) <= 2 * 7 / IOS, plain["ipis"]


@pytest.mark.parametrize("policy", ["global", "percpu"])
def test_peer_agrees_on_mean_latency_and_iops(cli, policy):
    t = tlbsim_run(cli, policy, *LIKE_FOR_LIKE)
    p = peer_run(policy)
    # Seed-to-seed spread at 5,000 I/Os is about 0.5%, and the two account
    # irq-off sections differently (+0.3% in tlbsim under global): 2% is
    # several times both, and far below the policies' 2x difference.
    mean = t["latency_cycles"]["mean"]
    assert abs(p["mean"] - mean) / mean < 0.02, (p["mean"], mean)
    iops = t["throughput"]["iops"]
    assert abs(p["iops"] - iops) / iops < 0.02, (p["iops"], iops)
