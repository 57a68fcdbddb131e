//! The cost preset and the scenario hash.

mod common;
use common::{s, sets, write};

use cpu_model::CostTable;

#[test]
fn vm_preset_changes_ipi_costs_and_explicit_keys_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let bare = scenarios::load("default", &[]).unwrap();
    assert_eq!(bare.config.costs, CostTable::bare_metal());

    let p = write(dir.path(), "vm.toml", "[costs]\npreset = \"vm\"\n");
    let vm = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(vm.config.costs, CostTable::host_domain_in_vm());
    assert!(vm.config.costs.ipi_send_cycles > bare.config.costs.ipi_send_cycles);
    assert!(vm.config.costs.ipi_delivery_cycles > bare.config.costs.ipi_delivery_cycles);

    let p = write(
        dir.path(),
        "vm2.toml",
        "[costs]\nipi_send_cycles = 1234\npreset = \"vm\"\n",
    );
    let vm2 = scenarios::load(s(&p), &[]).unwrap();
    assert_eq!(
        vm2.config.costs.ipi_send_cycles, 1234,
        "explicit key beats the preset"
    );
    assert_eq!(
        vm2.config.costs.ipi_delivery_cycles,
        CostTable::host_domain_in_vm().ipi_delivery_cycles
    );

    let via_set = scenarios::load("default", &sets(&["costs.preset=vm"])).unwrap();
    assert_eq!(via_set.config.costs, CostTable::host_domain_in_vm());
    let both = scenarios::load("vm-host", &sets(&["costs.ipi_handler_cycles=7"])).unwrap();
    assert_eq!(both.config.costs.ipi_handler_cycles, 7);
    assert_eq!(
        both.config.costs.ipi_send_cycles,
        CostTable::host_domain_in_vm().ipi_send_cycles
    );
    let back = scenarios::load("vm-host", &sets(&["costs.preset=bare-metal"])).unwrap();
    assert_eq!(back.config.costs, CostTable::bare_metal());
}

#[test]
fn hash_is_stable_and_sensitive() {
    let a = scenarios::load("default", &[]).unwrap();
    let b = scenarios::load("default", &[]).unwrap();
    assert_eq!(a.hash, b.hash);
    assert!(a.hash.chars().all(|c| c.is_ascii_hexdigit()));
    for o in [
        "seed=2",
        "machine.cpus=9",
        "guests.0.read_fraction=0.25",
        "policies=[\"percpu\", \"global\"]",
        "costs.ack_cycles=101",
    ] {
        let c = scenarios::load("default", &sets(&[o])).unwrap();
        assert_ne!(c.hash, a.hash, "{o}");
    }
    // Setting a key to its current value is the same scenario.
    assert_eq!(
        scenarios::load("default", &sets(&["machine.cpus=8"]))
            .unwrap()
            .hash,
        a.hash
    );
}

#[test]
fn hash_ignores_key_order_and_formatting() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        dir.path(),
        "one.toml",
        "seed = 5\n[machine]\ncpus = 4\npwc_entries = 8\n[host]\nio_cpus = 2\n",
    );
    let two = write(dir.path(), "two.toml", "[host]\nio_cpus = 2\n\n[machine]\npwc_entries = 8\ncpus = 4 # comment\n\n[stop]\nios = 20000\n");
    let three = write(
        dir.path(),
        "three.json",
        "{\"machine\": {\"pwc_entries\": 8, \"cpus\": 4}, \"host\": {\"io_cpus\": 2}}",
    );
    let h1 = scenarios::load(s(&one), &[]).unwrap();
    let h2 = scenarios::load(s(&two), &["seed=5".to_string()]).unwrap();
    let h3 = scenarios::load(s(&three), &["seed=5".to_string()]).unwrap();
    assert_eq!(h1.hash, h2.hash);
    assert_eq!(h1.hash, h3.hash);
    assert_ne!(h1.name, h2.name, "names differ, identity does not");
}

/// Every named preset loads as its cost table; `machine.ipi_delivery` reads
/// each mode by name and a wrong one is reported at its line.
#[test]
fn named_presets_and_ipi_delivery_load() {
    for name in CostTable::PRESETS {
        let sc = scenarios::load("default", &sets(&[&format!("costs.preset={name}")])).unwrap();
        assert_eq!(Some(sc.config.costs), CostTable::preset(name), "{name}");
    }
    let baseline = scenarios::load("fixed-baseline", &[]).unwrap();
    assert_eq!(
        baseline.config.machine.ipi_delivery,
        cpu_model::IpiDeliveryMode::Unicast
    );
    // The default is Xen's x2APIC cluster mode.
    let default = scenarios::load("default", &[]).unwrap();
    assert_eq!(
        default.config.machine.ipi_delivery,
        cpu_model::IpiDeliveryMode::X2apicCluster
    );
    for mode in cpu_model::IpiDeliveryMode::ALL {
        let sc = scenarios::load(
            "default",
            &sets(&[&format!("machine.ipi_delivery={}", mode.name())]),
        )
        .unwrap();
        assert_eq!(sc.config.machine.ipi_delivery, mode);
        if mode == cpu_model::IpiDeliveryMode::X2apicCluster {
            assert_eq!(sc.hash, default.hash, "the default, written out");
        } else {
            assert_ne!(sc.hash, default.hash, "{mode:?} changes the hash");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "bad.toml",
        "[machine]\ncpus = 4\nipi_delivery = \"multicast\"\n",
    );
    let text = scenarios::load(s(&p), &[]).unwrap_err().to_string();
    assert!(
        text.contains("bad.toml:3: machine.ipi_delivery: unknown variant `multicast`"),
        "{text}"
    );
}
