//! `--set KEY=VALUE` overrides.

mod common;
use common::{s, sets, write};

use machine::Touch;
use workloads::SizeSpec;

#[test]
fn nested_keys_list_indices_and_values() {
    let sc = scenarios::load(
        "default",
        &sets(&[
            "machine.cpus=16",
            "machine.tlb.l1.entries=128",
            "guests.0.queue_depth=3",
            "guests.1.size_bytes={min=4096,max=8192,align=4096}",
            "host.touch=page",
            "host.migration_probability=0.25",
            "policies=[\"percpu\", \"percpu-unsafe\"]",
            "background.enabled=false",
        ]),
    )
    .unwrap();
    assert_eq!(sc.config.machine.cpus, 16);
    assert_eq!(sc.config.machine.tlb.l1.entries, 128);
    assert_eq!(
        sc.config.machine.tlb.l1.ways, 4,
        "sibling of an overridden key keeps its value"
    );
    assert_eq!(sc.config.guests[0].queue_depth, 3);
    assert_eq!(sc.config.guests[1].queue_depth, 8);
    assert_eq!(
        sc.config.guests[1].size_bytes,
        SizeSpec::Uniform {
            min: 4096,
            max: 8192,
            align: 4096
        }
    );
    assert_eq!(sc.config.host.touch, Touch::Page, "a bare string value");
    assert_eq!(sc.config.host.migration_probability, 0.25);
    assert_eq!(sc.policy_names(), ["percpu", "percpu-unsafe"]);
    assert!(!sc.config.background.enabled);
}

#[test]
fn one_past_the_end_appends_a_default_element() {
    let sc = scenarios::load("default", &sets(&["guests.2.queue_depth=1"])).unwrap();
    assert_eq!(sc.config.guests.len(), 3);
    assert_eq!(sc.config.guests[2].queue_depth, 1);
    assert_eq!(
        sc.config.guests[2].read_fraction,
        workloads::GuestConfig::default().read_fraction
    );
}

#[test]
fn l2_can_be_disabled_and_round_trips() {
    let sc = scenarios::load("default", &sets(&["machine.tlb.l2=false"])).unwrap();
    assert_eq!(sc.config.machine.tlb.l2, None);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "r.toml", &scenarios::to_toml(&sc));
    assert_eq!(scenarios::load(s(&p), &[]).unwrap().hash, sc.hash);
}

#[test]
fn bad_overrides_are_reported_together() {
    let e = scenarios::load(
        "default",
        &sets(&[
            "machine.cpux=4",
            "guests.5.queue_depth=1",
            "guests.x.queue_depth=1",
            "seed.deeper=1",
            "noequals",
            "host.touch=word",
        ]),
    )
    .unwrap_err();
    let text = e.to_string();
    let problems = e.problems();
    assert_eq!(problems.len(), 6, "{text}");
    assert!(
        problems
            .iter()
            .all(|p| p.file == "--set" && p.line.is_none()),
        "{text}"
    );
    assert!(
        text.contains("--set: machine.cpux: unknown field `cpux`, expected one of"),
        "{text}"
    );
    assert!(
        text.contains(
            "--set: guests.5.queue_depth: index 5 is out of range: `guests` has 2 elements"
        ),
        "{text}"
    );
    assert!(
        text.contains("--set: guests.x.queue_depth: `guests` is a list"),
        "{text}"
    );
    assert!(
        text.contains("--set: seed.deeper: `seed` is an integer, not a table"),
        "{text}"
    );
    assert!(
        text.contains("--set: `noequals`: expected KEY=VALUE"),
        "{text}"
    );
    assert!(
        text.contains("--set: host.touch: unknown variant `word`, expected one of `line`, `page-lookup`, `page`, `header`, `dma`"),
        "{text}"
    );
}

#[test]
fn overridden_problems_point_at_set() {
    let text = scenarios::load("default", &sets(&["guests.0.queue_depth=0"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        text,
        "--set: guests.0.queue_depth: must be at least 1 for a closed-loop guest"
    );
    let text = scenarios::load("default", &sets(&["policies=percpu"]))
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("--set: policies: must be a list of policy names"),
        "{text}"
    );
    let text = scenarios::load("default", &sets(&["policies=[\"percpu\", \"fast\"]"]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains(&format!(
            "--set: policies.1: unknown policy `fast` (allowed: {})",
            hypervisor::Registry::builtin().names()
        )),
        "{text}"
    );
}

#[test]
fn all_runs_every_registered_policy_in_registry_order() {
    let sc = scenarios::load("default", &sets(&["policies=[\"all\"]"])).unwrap();
    let registry = hypervisor::Registry::builtin();
    let expected: Vec<&str> = registry.iter().map(|p| p.name).collect();
    assert!(expected.len() > 3);
    assert_eq!(sc.policy_names(), expected);
    let text = scenarios::load("default", &sets(&["policies=[\"percpu\", \"all\"]"]))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("--set: policies.1: policy `percpu` is listed twice"),
        "{text}"
    );
}
