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
import tempfile

from ._tlbsim import ScenarioError, __version__
from . import _tlbsim

__all__ = ["ScenarioError", "run", "run_frame", "sweep", "scenarios", "__version__"]


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


def sweep(sweep, set=None, jobs=0, out=None):
    """Runs a sweep (bundled experiment, sweep file path, or a dict in the
    sweep file's structure) and returns sweep.csv as a pandas DataFrame.
    With `out`, its files are kept there (and finished points reused, as
    ``tlbsim sweep --out``); otherwise in a temporary folder, removed."""
    pd = _pandas()
    with _Source(sweep, name="sweep") as source:
        if out is not None:
            csv = _tlbsim.sweep(source, _overrides(set), os.fspath(out), jobs)
            return pd.read_csv(csv)
        with tempfile.TemporaryDirectory(prefix="tlbsim-sweep-") as d:
            csv = _tlbsim.sweep(source, _overrides(set), d, jobs)
            return pd.read_csv(csv)
