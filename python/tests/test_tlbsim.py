"""The Python package against the CLI: same inputs, same bytes."""

import json
import subprocess
import sys

import pytest

import tlbsim

SMALL = {"stop.ios": 300, "stop.warmup_ios": 30}
SMALL_ARGS = ["--set", "stop.ios=300", "--set", "stop.warmup_ios=30"]
SMALL_SWEEP = {
    "base": "default",
    "policies": ["global", "percpu"],
    "seeds": [1],
    "set": {"stop": {"ios": 200, "warmup_ios": 20}},
    "axes": {"machine.cpus": [2, 4]},
}


def dumps(summary):
    """summary.json's serialization (serde_json pretty: two-space indent,
    newline at the end)."""
    return json.dumps(summary, indent=2) + "\n"


def test_run_is_the_cli_summary_byte_for_byte(cli):
    got = tlbsim.run("default", policies=["percpu", "global"], seed=7, set=SMALL)
    want = cli("run", "default", "--policies", "percpu,global", "--seed", "7", *SMALL_ARGS, "--json").stdout
    assert dumps(got) == want
    assert [r["policy"] for r in got["runs"]] == ["percpu", "global"]
    assert got["seed"] == 7


def test_seed_changes_the_result():
    a = tlbsim.run("default", seed=1, set=SMALL)
    b = tlbsim.run("default", seed=2, set=SMALL)
    assert a["runs"] != b["runs"]


def test_set_as_list_equals_set_as_dict():
    a = tlbsim.run("default", set=SMALL)
    b = tlbsim.run("default", set=["stop.ios=300", "stop.warmup_ios=30"])
    assert a == b


def test_dict_scenario_equals_the_same_scenario_as_a_file(cli, tmp_path):
    scenario = {"extends": "default", "machine": {"cpus": 4}, "stop": {"ios": 300, "warmup_ios": 30}}
    got = tlbsim.run(scenario)
    # The same structure, as the TOML file a user would write.
    path = tmp_path / "scenario.toml"
    path.write_text('extends = "default"\n[machine]\ncpus = 4\n[stop]\nios = 300\nwarmup_ios = 30\n')
    want = cli("run", path, "--json").stdout
    assert dumps(got) == want
    assert tlbsim.run(path) == got  # a pathlib.Path is a path


def test_run_frame_has_the_summary_csv_columns_and_values(cli, tmp_path):
    frame = tlbsim.run_frame("default", set=SMALL)
    cli("run", "default", *SMALL_ARGS, "--out", tmp_path)
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert list(frame.columns) == csv[0].split(",")
    assert len(frame) == len(csv) - 1
    assert list(frame["policy"]) == [line.split(",")[csv[0].split(",").index("policy")] for line in csv[1:]]
    import pandas

    pandas.testing.assert_frame_equal(frame, pandas.read_csv(tmp_path / "summary.csv"))


def test_sweep_is_the_cli_sweep_csv(cli, tmp_path):
    sets = {"stop.ios": 200, "stop.warmup_ios": 20}
    frame = tlbsim.sweep("scaling", set=sets, out=tmp_path / "py")
    cli("sweep", "scaling", "--set", "stop.ios=200", "--set", "stop.warmup_ios=20", "--out", tmp_path / "cli")
    assert (tmp_path / "py" / "sweep.csv").read_bytes() == (tmp_path / "cli" / "sweep.csv").read_bytes()
    import pandas

    pandas.testing.assert_frame_equal(frame, pandas.read_csv(tmp_path / "cli" / "sweep.csv"))
    # Without out, a temporary folder: the same frame.
    pandas.testing.assert_frame_equal(tlbsim.sweep("scaling", set=sets), frame)


def test_sweep_from_a_dict():
    frame = tlbsim.sweep(SMALL_SWEEP)
    assert len(frame) == 4
    assert sorted(set(frame["policy"])) == ["global", "percpu"]


def test_a_bad_scenario_raises_scenario_error_with_the_cli_text(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('extends = "default"\n[machine]\ncpus = "many"\n')
    with pytest.raises(tlbsim.ScenarioError) as e:
        tlbsim.run(path)
    cli_err = cli("run", path, check=False)
    assert cli_err.returncode == 1
    assert cli_err.stderr == f"error: {e.value}\n"
    assert f"{path}:3: machine.cpus:" in str(e.value)


def test_a_bad_dict_names_its_line_and_key():
    with pytest.raises(tlbsim.ScenarioError, match=r"scenario\.toml:\d+: machine\.cpus: "):
        tlbsim.run({"extends": "default", "machine": {"cpus": "many"}})
    with pytest.raises(tlbsim.ScenarioError, match="unknown scenario"):
        tlbsim.run("no-such-scenario")
    with pytest.raises(tlbsim.ScenarioError):
        tlbsim.sweep({"base": "default", "axes": {"machine.no_such_key": [1]}})


def test_scenario_error_is_a_value_error():
    assert issubclass(tlbsim.ScenarioError, ValueError)


def test_bundled_scenarios_are_the_cli_list(cli):
    names = [line.split()[0] for line in cli("scenarios").stdout.splitlines()]
    assert list(tlbsim.scenarios()) == names


def test_pandas_is_imported_only_by_the_frame_functions():
    code = (
        "import sys, tlbsim; "
        "tlbsim.run('default', set={'stop.ios': 100, 'stop.warmup_ios': 10}); "
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_per_io_is_the_cli_per_io_csv(cli, tmp_path):
    frame = tlbsim.per_io("default", seed=3, set=SMALL, path=tmp_path / "py.csv")
    cli("run", "default", "--seed", "3", *SMALL_ARGS, "--per-io", tmp_path / "cli.csv")
    assert (tmp_path / "py.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    import pandas

    pandas.testing.assert_frame_equal(frame, pandas.read_csv(tmp_path / "cli.csv"))
    # Without path, a temporary file: the same frame, and nothing left.
    pandas.testing.assert_frame_equal(tlbsim.per_io("default", seed=3, set=SMALL), frame)


def test_per_io_rows_sum_to_the_summary():
    summary = tlbsim.run("default", set=SMALL)
    frame = tlbsim.per_io("default", set=SMALL)
    assert list(frame.columns[:8]) == [
        "policy",
        "guest",
        "cpu",
        "size_bytes",
        "read",
        "pieces",
        "arrival_cycles",
        "latency_cycles",
    ]
    assert list(frame["policy"].unique()) == [r["policy"] for r in summary["runs"]]
    for run in summary["runs"]:
        rows = frame[frame["policy"] == run["policy"]]
        assert len(rows) == run["io"]["completed"]
        assert int(rows["size_bytes"].sum()) == run["io"]["bytes"]
        assert rows["latency_cycles"].mean() == pytest.approx(run["latency_cycles"]["mean"], rel=1e-12)
        for part, per_io in run["latency_breakdown_cycles_per_io"].items():
            # Short only by what requests in flight at the stop had added.
            total = per_io * len(rows)
            have = int(rows[f"{part}_cycles"].sum())
            assert have <= total + 0.5
            assert total - have <= run["peak_in_flight"] * run["latency_cycles"]["max"]


def test_sweep_progress_reports_every_simulation(tmp_path):
    spec = SMALL_SWEEP
    calls = []
    frame = tlbsim.sweep(spec, out=tmp_path / "a", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert len(frame) == 4
    # Rerun into the same folder: nothing left to run.
    calls.clear()
    tlbsim.sweep(spec, out=tmp_path / "a", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 0)]

    def fails(done, total):
        raise RuntimeError(f"stop at {done}")

    with pytest.raises(RuntimeError, match="stop at 0"):
        tlbsim.sweep(spec, out=tmp_path / "b", progress=fails)
    with pytest.raises(TypeError):
        tlbsim.sweep(spec, progress="yes")


def test_sweep_progress_true_writes_to_stderr(capsys):
    spec = {
        "base": "default",
        "seeds": [1],
        "set": {"stop": {"ios": 100, "warmup_ios": 10}},
        "axes": {"machine.cpus": [2]},
    }
    tlbsim.sweep(spec, progress=True)
    err = capsys.readouterr().err
    assert "sweep sweep: 2/2 simulations\n" in err


def test_sweep_shards_merge_into_the_unsharded_sweep(cli, tmp_path):
    whole = tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "whole")
    assert tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "s1", shard="1/2") is None
    assert tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "s2", shard="2/2") is None
    assert not (tmp_path / "s1" / "sweep.csv").exists()
    cli("merge", tmp_path / "s1", tmp_path / "s2", "--out", tmp_path / "merged")
    assert (tmp_path / "merged" / "sweep.csv").read_bytes() == (tmp_path / "whole" / "sweep.csv").read_bytes()
    import pandas

    pandas.testing.assert_frame_equal(pandas.read_csv(tmp_path / "merged" / "sweep.csv"), whole)
    with pytest.raises(ValueError, match="shard= needs out="):
        tlbsim.sweep(SMALL_SWEEP, shard="1/2")
    with pytest.raises(ValueError, match="--shard 3/2"):
        tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "bad", shard="3/2")


def test_sweep_shard_auto_reads_the_scheduler(monkeypatch, tmp_path):
    for k in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.delenv("JOB_COMPLETION_INDEX", raising=False)
    with pytest.raises(ValueError, match="--shard auto"):
        tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "none", shard="auto")
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    calls = []
    got = tlbsim.sweep(SMALL_SWEEP, out=tmp_path / "k1", shard="auto", shard_count=2, progress=lambda d, t: calls.append(t))
    assert got is None
    # Kubernetes' 0-based index 1 of 2 is shard 2/2: half of the 4 simulations.
    assert calls[0] == 2
