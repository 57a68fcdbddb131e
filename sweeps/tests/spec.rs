//! Sweep files: what parses, and every problem located as
//! `FILE:LINE: KEY: MESSAGE`, in the sweep file wherever it comes from it.

mod common;

use sweeps::{ResolvedSweep, SweepSpec};

fn parse(text: &str) -> Result<SweepSpec, String> {
    SweepSpec::parse("t", "t.toml", text, None).map_err(|e| e.to_string())
}

/// The error of resolving a sweep file that parses.
fn resolve_err(text: &str) -> String {
    let spec = parse(text).unwrap();
    ResolvedSweep::new(&spec, &[]).unwrap_err().to_string()
}

#[test]
fn axes_table_keeps_file_order_and_spec_errors_are_located() {
    let text = "base = \"default\"\n[axes]\n\"machine.cpus\" = [2, 4]\n\"host.io_cpus\" = [1, 2]\n";
    let names: Vec<_> = parse(text)
        .unwrap()
        .axes
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["machine.cpus", "host.io_cpus"]);
    let bad = "base = \"default\"\nbogus = 1\n[axes]\n\"machine.cpus\" = 3\n";
    let e = parse(bad).unwrap_err();
    assert!(e.contains("t.toml:2: bogus: unknown key"), "{e}");
    assert!(
        e.contains("t.toml:4: axes.machine.cpus: must be a list"),
        "{e}"
    );
    let e = parse("[axes]\n\"machine.cpus\" = [2, 2]\n").unwrap_err();
    assert!(e.contains("t.toml: missing `base`"), "{e}");
    assert!(
        e.contains("t.toml:2: axes.machine.cpus.1: value 2 appears twice"),
        "{e}"
    );
    let e = parse("base = \"default\"\n[axes\n").unwrap_err();
    assert!(e.starts_with("t.toml:2:"), "{e}");
    assert!(e.contains("syntax error"), "{e}");
}

#[test]
fn a_bad_axis_value_names_the_line_of_that_value() {
    let text = "base = \"default\"\n\n[[axes]]\nkey = \"machine.cpus\"\nvalues = [\n  2,\n  \"many\",\n]\n";
    let e = resolve_err(text);
    assert!(e.starts_with("t.toml:7: machine.cpus: "), "{e}");
    assert!(
        e.contains("grid point 1 of sweep t: machine.cpus=\"many\""),
        "{e}"
    );
    // The same in an `[axes]` table.
    let e =
        resolve_err("base = \"default\"\n[axes]\n\"host.touch\" = [\"line\",\n  \"everything\"]\n");
    assert!(e.starts_with("t.toml:4: host.touch: "), "{e}");
    // A key the scenario does not have is the scenario loader's error, at the value.
    let e = resolve_err("base = \"default\"\n[axes]\n\"machine.cpuz\" = [4]\n");
    assert!(
        e.starts_with("t.toml:3: machine.cpuz: unknown field"),
        "{e}"
    );
}

#[test]
fn a_missing_base_names_the_sweep_file_and_line() {
    let e = resolve_err("description = \"x\"\nbase = \"nope\"\n[axes]\n\"machine.cpus\" = [2]\n");
    assert!(
        e.starts_with("t.toml:2: base: unknown scenario `nope`"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "\nbase = \"missing.toml\"\n[axes]\n\"machine.cpus\" = [2]\n",
    )
    .unwrap();
    let e = ResolvedSweep::load(file.to_str().unwrap(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("{}:2: base: ", file.display())),
        "{e}"
    );
    assert!(e.contains("missing.toml"), "{e}");
}

#[test]
fn set_and_policy_problems_name_the_sweep_file_command_line_ones_say_set() {
    let e = resolve_err("base = \"default\"\npolicies = [\"global\", \"nope\"]\n[set]\nstop.ios = -1\n[axes]\n\"machine.cpus\" = [2]\n");
    assert!(e.contains("t.toml:2: policies.1: "), "{e}");
    assert!(e.contains("t.toml:4: stop.ios: "), "{e}");
    let spec = parse(common::SWEEP).unwrap();
    let e = ResolvedSweep::new(&spec, &["stop.ios=x".into()])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--set: stop.ios: "), "{e}");
}

#[test]
fn unknown_sweeps_list_the_bundled_ones() {
    let e = SweepSpec::load("no-such-sweep").unwrap_err().to_string();
    assert!(e.contains("unknown sweep `no-such-sweep`"), "{e}");
    assert!(e.contains("scaling, io-size, migration, ipi-cost"), "{e}");
}

#[test]
fn bundled_experiments_parse_and_plan_and_plans_round_trip() {
    for e in sweeps::experiments() {
        let s = ResolvedSweep::load(e.name, &[]).unwrap();
        assert!(!s.plan.axes.is_empty(), "{}", e.name);
        assert_eq!(s.plan.jobs.len(), s.scenarios.len());
        assert_eq!(sweeps::Plan::from_json(&s.plan.to_json()).unwrap(), s.plan);
    }
}

#[test]
fn plans_are_deterministic_and_ordered_grid_policy_seed() {
    let a = common::resolve(common::SWEEP);
    let b = common::resolve(common::SWEEP);
    assert_eq!(a.plan.to_json(), b.plan.to_json());
    let keys: Vec<String> = a
        .plan
        .jobs
        .iter()
        .map(|j| format!("{},{},{}", j.axis_text(), j.policy, j.seed))
        .collect();
    let mut want = Vec::new();
    for cpus in [2, 4, 8] {
        for p in ["global", "percpu"] {
            for seed in [1, 2] {
                want.push(format!("{cpus},{p},{seed}"));
            }
        }
    }
    assert_eq!(keys, want);
    for (j, sc) in a.plan.jobs.iter().zip(&a.scenarios) {
        assert_eq!(j.hash.as_str(), sc.hash);
        assert_eq!(sc.config.seed, j.seed);
        assert_eq!(sc.policies.len(), 1);
    }
    // `replications` counts from the base seed.
    let r = common::resolve(&common::SWEEP.replace("seeds = [1, 2]", "replications = 3"));
    assert_eq!(r.plan.seeds, [1, 2, 3]);
}

/// An axis on `costs.preset` keeps the individual costs `set` gives, at
/// every point (the preset is the base, explicit keys win).
#[test]
fn preset_axis_keeps_explicit_costs() {
    let text = "base = \"default\"\npolicies = [\"global\"]\n[set]\n\"costs.ipi_send_cycles\" = 123\n[axes]\n\"costs.preset\" = [\"bare-metal\", \"vm\"]\n";
    let s = common::resolve(text);
    assert_eq!(s.scenarios.len(), 2);
    for sc in &s.scenarios {
        assert_eq!(sc.config.costs.ipi_send_cycles, 123);
    }
    let vm = cpu_model::CostTable::host_domain_in_vm();
    assert_eq!(
        s.scenarios[1].config.costs.ipi_delivery_cycles,
        vm.ipi_delivery_cycles
    );
    assert_ne!(
        s.scenarios[0].config.costs.ipi_delivery_cycles,
        vm.ipi_delivery_cycles
    );
}
