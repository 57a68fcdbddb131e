//! `extends`: merging, list replacement, cycles, relative paths.

mod common;
use common::{s, write};

const PARENT: &str = r#"
description = "parent"
policies = ["global"]
[machine]
cpus = 12
pwc_entries = 16
[host]
io_cpus = 3
[[guests]]
queue_depth = 5
[[guests]]
queue_depth = 6
"#;

#[test]
fn child_table_key_keeps_parent_siblings() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "parent.toml", PARENT);
    let child = write(
        dir.path(),
        "child.toml",
        "extends = \"parent.toml\"\n[machine]\ncpus = 4\n",
    );
    let sc = scenarios::load(s(&child), &[]).unwrap();
    assert_eq!(sc.name, "child");
    assert_eq!(sc.config.machine.cpus, 4);
    assert_eq!(
        sc.config.machine.pwc_entries, 16,
        "parent's sibling key kept"
    );
    assert_eq!(sc.config.host.io_cpus, 3);
    assert_eq!(sc.description, "parent");
    assert_eq!(sc.policy_names(), ["global"]);
    assert_eq!(sc.config.guests.len(), 2);
}

#[test]
fn child_list_replaces_parent_list() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "parent.toml", PARENT);
    let child = write(
        dir.path(),
        "child.toml",
        "extends = \"parent.toml\"\npolicies = [\"percpu\"]\n[[guests]]\nread_fraction = 1.0\n",
    );
    let sc = scenarios::load(s(&child), &[]).unwrap();
    assert_eq!(sc.policy_names(), ["percpu"]);
    assert_eq!(sc.config.guests.len(), 1);
    assert_eq!(sc.config.guests[0].read_fraction, 1.0);
    assert_eq!(
        sc.config.guests[0].queue_depth,
        workloads::GuestConfig::default().queue_depth,
        "no merging into list elements"
    );
}

#[test]
fn chains_and_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "base/grand.toml",
        "seed = 7\n[host]\nio_cpus = 1\n",
    );
    write(
        dir.path(),
        "base/parent.toml",
        "extends = \"grand.toml\"\n[policy.global]\nflush_lock = false\n",
    );
    let child = write(
        dir.path(),
        "sub/dir/child.toml",
        "extends = \"../../base/parent.toml\"\n[machine]\ncpus = 2\n",
    );
    let sc = scenarios::load(s(&child), &[]).unwrap();
    assert_eq!(sc.config.seed, 7);
    assert_eq!(sc.config.host.io_cpus, 1);
    assert!(!sc.policy("global").unwrap().params.bool("flush_lock"));
    assert_eq!(sc.config.machine.cpus, 2);
}

#[test]
fn a_file_may_extend_a_bundled_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let child = write(
        dir.path(),
        "mine.toml",
        "extends = \"blkif\"\n[host]\nio_cpus = 8\n",
    );
    let sc = scenarios::load(s(&child), &[]).unwrap();
    let blkif = scenarios::load("blkif", &[]).unwrap();
    assert_eq!(sc.config.host.io_cpus, 8);
    assert_eq!(sc.config.guests, blkif.config.guests);
    assert_eq!(sc.description, blkif.description);
}

#[test]
fn cycles_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.toml", "extends = \"b.toml\"\n");
    write(dir.path(), "b.toml", "seed = 2\nextends = \"a.toml\"\n");
    let e = scenarios::load(s(&a), &[]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("cycle"), "{text}");
    assert!(text.contains("b.toml:2: extends:"), "{text}");
    let selfish = write(dir.path(), "self.toml", "extends = \"self.toml\"\n");
    assert!(scenarios::load(s(&selfish), &[])
        .unwrap_err()
        .to_string()
        .contains("cycle"));
}

#[test]
fn bad_extends_targets_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let missing = write(dir.path(), "m.toml", "seed = 1\nextends = \"gone.toml\"\n");
    let text = scenarios::load(s(&missing), &[]).unwrap_err().to_string();
    assert!(text.contains("m.toml:2: extends: cannot read"), "{text}");
    assert!(text.contains("gone.toml"), "{text}");

    let unknown = write(dir.path(), "u.toml", "extends = \"nosuch\"\n");
    let text = scenarios::load(s(&unknown), &[]).unwrap_err().to_string();
    assert!(
        text.contains("u.toml:1: extends: unknown scenario `nosuch`"),
        "{text}"
    );
    assert!(text.contains("default"), "lists the bundled names: {text}");

    let typed = write(dir.path(), "t.toml", "extends = 3\n");
    let text = scenarios::load(s(&typed), &[]).unwrap_err().to_string();
    assert!(
        text.contains("t.toml:1: extends: must be a string"),
        "{text}"
    );

    // A syntax error in a parent names the parent.
    write(dir.path(), "broken.toml", "[machine\n");
    let child = write(dir.path(), "c.toml", "extends = \"broken.toml\"\n");
    let e = scenarios::load(s(&child), &[]).unwrap_err();
    assert!(
        matches!(&e, scenarios::ScenarioError::Syntax { file, line: 1, .. } if file.ends_with("broken.toml")),
        "{e}"
    );
}

#[test]
fn problems_in_a_parent_point_at_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "parent.toml", "seed = 1\n[host]\nio_cpus = 0\n");
    let child = write(
        dir.path(),
        "child.toml",
        "extends = \"parent.toml\"\n[machine]\nbogus = 1\n",
    );
    let e = scenarios::load(s(&child), &[]).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("parent.toml:3: host.io_cpus:"), "{text}");
    assert!(
        text.contains("child.toml:3: machine.bogus: unknown field"),
        "{text}"
    );
}
