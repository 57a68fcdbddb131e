"""Shared fixtures: the CLI binary the package is compared with."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli():
    """Runs the tlbsim binary ($TLBSIM, default target/release/tlbsim)."""
    exe = os.environ.get("TLBSIM", str(ROOT / "target" / "release" / "tlbsim"))
    if not os.path.exists(exe):
        pytest.fail(f"no tlbsim binary at {exe}: cargo build --release (or set TLBSIM)")

    def run(*args, check=True):
        return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=check)

    return run
