"""tlbsim from Python: run scenarios and sweeps, get dicts and DataFrames.

The simulation, the scenario format and the reports are tlbsim's own (the
Rust extension ``tlbsim._tlbsim`` calls the same library functions as the
``tlbsim`` command line), so ``run()`` returns exactly the CLI's
summary.json, and ``run_frame()`` / ``sweep()`` the columns of its
summary.csv / sweep.csv.

A scenario is a bundled name (``tlbsim.scenarios()``), a path to a .toml or
.json file, or a dict in the TOML file's structure (``{"extends": "default",
"machine": {"cpus": 4}}``). ``set`` overrides keys as ``--set`` does: a dict
``{"machine.cpus": 8}`` or a list of ``"KEY=VALUE"`` strings.

Errors in a scenario or sweep raise ``tlbsim.ScenarioError`` with the CLI's
``FILE:LINE: KEY: MESSAGE`` text (a dict is written as a temporary TOML file,
``scenario.toml`` or ``sweep.toml``, which FILE names; a relative path in its
``extends`` or ``base`` is taken relative to the current directory).
"""

import io
import json
import os
import sys
import tempfile

from ._tlbsim import ScenarioError, __version__
from . import _tlbsim

__all__ = ["ScenarioError", "run", "run_frame", "per_io", "sweep", "scenarios", "__version__"]


def scenarios():
    """The bundled scenarios as a dict: name -> description."""
    return dict(_tlbsim.scenarios_list())


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"set: value {v!r} is not a bool, number, string or list")


def _overrides(set, seed=None, policies=None):
    """The CLI's --set list: `set`, then --seed, then --policies."""
    if set is None:
        sets = []
    elif isinstance(set, dict):
        sets = [f"{k}={_toml_value(v)}" for k, v in set.items()]
    elif isinstance(set, str):
        sets = [set]
    else:
        sets = [str(s) for s in set]
    if seed is not None:
        sets.append(f"seed={int(seed)}")
    if policies is not None:
        if isinstance(policies, str):
            policies = policies.split(",")
        sets.append("policies=[" + ",".join(json.dumps(p.strip()) for p in policies) + "]")
    return sets


def _looks_like_path(s):
    """As the loaders decide: a separator, or a .toml / .json name."""
    return "/" in s or os.sep in s or s.endswith((".toml", ".json"))


class _Source:
    """A scenario argument as something the loader takes: a name or path as
    given, a dict written to a temporary JSON file (removed on exit)."""

    def __init__(self, scenario, name="scenario"):
        self.scenario = scenario
        self.name = name
        self.dir = None

    def __enter__(self):
        if isinstance(self.scenario, dict):
            doc = dict(self.scenario)
            for key in ("extends", "base"):
                v = doc.get(key)
                if isinstance(v, (str, os.PathLike)) and _looks_like_path(os.fspath(v)):
                    doc[key] = os.path.abspath(os.fspath(v))
            self.dir = tempfile.TemporaryDirectory(prefix="tlbsim-")
            path = os.path.join(self.dir.name, f"{self.name}.toml")
            with open(path, "w") as f:
                f.write(_tlbsim.toml_from_json(json.dumps(doc)))
            return path
        if isinstance(self.scenario, os.PathLike):
            return os.fspath(self.scenario)
        if isinstance(self.scenario, str):
            return self.scenario
        raise TypeError("scenario: expected a bundled name, a path or a dict")

    def __exit__(self, *exc):
        if self.dir is not None:
            self.dir.cleanup()


def _run(scenario, policies, seed, set, jobs):
    with _Source(scenario) as source:
        return _tlbsim.run(source, _overrides(set, seed, policies), jobs)


def run(scenario, policies=None, seed=None, set=None, jobs=0):
    """Simulates `scenario` under each of its policies (or `policies`) and
    returns summary.json as a dict (what ``tlbsim run --json`` prints)."""
    text, _ = _run(scenario, policies, seed, set, jobs)
    return json.loads(text)


def _pandas():
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("tlbsim.run_frame() and tlbsim.sweep() need pandas: pip install pandas") from e
    return pandas


def run_frame(scenario, policies=None, seed=None, set=None, jobs=0):
    """As run(), as a pandas DataFrame with summary.csv's columns, one row
    per policy."""
    pd = _pandas()
    _, csv = _run(scenario, policies, seed, set, jobs)
    return pd.read_csv(io.StringIO(csv))


def per_io(scenario, policies=None, seed=None, set=None, jobs=0, path=None):
    """Simulates `scenario` as run() does and returns one row per measured
    I/O as a pandas DataFrame: the CSV of ``tlbsim run --per-io`` (columns
    policy, guest, cpu, size_bytes, read, pieces, arrival_cycles,
    latency_cycles and each latency part in cycles; docs/metrics.md). Summed
    per policy, the rows give the summary's I/O count, mean latency and
    latency breakdown. With `path`, the CSV is kept there; otherwise it is
    written to a temporary folder and removed."""
    pd = _pandas()
    with _Source(scenario) as source:
        sets = _overrides(set, seed, policies)
        if path is not None:
            _tlbsim.run_per_io(source, sets, os.fspath(path), jobs)
            return pd.read_csv(path)
        with tempfile.TemporaryDirectory(prefix="tlbsim-per-io-") as d:
            file = os.path.join(d, "per_io.csv")
            _tlbsim.run_per_io(source, sets, file, jobs)
            return pd.read_csv(file)


class _StderrProgress:
    """progress=True: a line on stderr, rewritten as simulations finish."""

    def __init__(self, name):
        self.name = name

    def __call__(self, done, total):
        end = "\n" if done >= total else ""
        print(f"\rsweep {self.name}: {done}/{total} simulations", end=end, file=sys.stderr, flush=True)


def _progress(progress, sweep):
    if progress is None or progress is False:
        return None
    if progress is True:
        name = sweep if isinstance(sweep, str) else "sweep"
        return _StderrProgress(os.path.splitext(os.path.basename(name))[0])
    if callable(progress):
        return progress
    raise TypeError("progress: expected True, False, None or a callable(done, total)")


def sweep(sweep, set=None, jobs=0, out=None, shard=None, shard_count=None, progress=None):
    """Runs a sweep (bundled experiment, sweep file path, or a dict in the
    sweep file's structure) and returns sweep.csv as a pandas DataFrame.
    With `out`, its files are kept there (and finished points reused, as
    ``tlbsim sweep --out``); otherwise in a temporary folder, removed.

    `progress`: True prints ``sweep NAME: DONE/TOTAL simulations`` on
    stderr as simulations finish; a callable is called as
    ``progress(done, total)`` (once with 0 first, then after each
    simulation; `total` counts the simulations to run now, not those
    reused). An exception it raises is raised when the sweep ends.

    `shard`: only this slice of the sweep's simulations, as ``tlbsim sweep
    --shard``: ``"I/N"``, or ``"auto"`` for the slice a Slurm job array or a
    Kubernetes indexed Job assigns this process (with `shard_count` for
    Kubernetes). A shard needs `out`, and returns None: join the shards'
    folders with ``tlbsim merge DIR... --out DIR``. ``"1/1"`` is the whole
    sweep."""
    pd = _pandas()
    report = _progress(progress, sweep)
    with _Source(sweep, name="sweep") as source:
        args = dict(shard=shard, shard_count=shard_count, progress=report)
        if out is not None:
            csv = _tlbsim.sweep(source, _overrides(set), os.fspath(out), jobs, **args)
            return None if csv is None else pd.read_csv(csv)
        if shard is not None:
            raise ValueError("sweep: shard= needs out= (a shard's points are joined later with tlbsim merge)")
        with tempfile.TemporaryDirectory(prefix="tlbsim-sweep-") as d:
            csv = _tlbsim.sweep(source, _overrides(set), d, jobs, **args)
            return pd.read_csv(csv)
