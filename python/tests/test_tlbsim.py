"""The Python package against the CLI: same inputs, same bytes."""

import json
import subprocess
import sys

import pytest

import tlbsim

SMALL = {"stop.ios": 300, "stop.warmup_ios": 30}
SMALL_ARGS = ["--set", "stop.ios=300", "--set", "stop.warmup_ios=30"]


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
    spec = {
        "base": "default",
        "policies": ["global", "percpu"],
        "seeds": [1],
        "set": {"stop": {"ios": 200, "warmup_ios": 20}},
        "axes": {"machine.cpus": [2, 4]},
    }
    frame = tlbsim.sweep(spec)
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
