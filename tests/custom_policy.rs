//! A policy defined outside the hypervisor crate, registered next to the
//! built-in ones, named in a scenario with a parameter, and run end to end:
//! proof that the machine carries out plans without knowing the policy, and
//! that its unmap-time local flush is a real step (the stale-translation
//! checker sees it go).

use hypervisor::{
    BuildContext, HvError, LocalFlush, MappingPolicy, PageTableManager, ParamKind, ParamProblem,
    ParamSpec, ParamValue, Params, Placement, PolicyInfo, Registry, RemoteInvalidation, UnmapPlan,
};
use machine::RunResult;
use std::io::Write;

/// Maps into the shared area and, on unmap, flushes the request's pages on
/// the serving CPU only (no IPIs). Safe while buffers stay on their CPU;
/// not when a thread migrates (the other CPU keeps its entries).
struct UnmapLocal {
    flush: bool,
}

impl MappingPolicy for UnmapLocal {
    fn name(&self) -> &str {
        "unmap-local"
    }
    fn setup(&mut self, _: &mut PageTableManager, _: &[cpu_model::CpuId]) -> Result<(), HvError> {
        Ok(())
    }
    fn place(
        &mut self,
        mgr: &mut PageTableManager,
        _: cpu_model::CpuId,
        pages: u32,
    ) -> Result<Placement, HvError> {
        mgr.take_chunk(pages)
    }
    fn on_map(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_foreign_access(&self, _: Placement) -> LocalFlush {
        LocalFlush::None
    }
    fn on_unmap(&self, _: Placement) -> UnmapPlan {
        UnmapPlan {
            local: if self.flush {
                LocalFlush::Pages
            } else {
                LocalFlush::None
            },
            remote: RemoteInvalidation::None,
        }
    }
}

fn build(p: &Params, _: &BuildContext) -> Result<Box<dyn MappingPolicy>, ParamProblem> {
    Ok(Box::new(UnmapLocal {
        flush: p.bool("flush"),
    }))
}

const INFO: PolicyInfo = PolicyInfo {
    name: "unmap-local",
    summary: "test policy: shared area, local flush at unmap, no IPIs",
    stands_for: "nothing real: a test of the plan vocabulary",
    unsafe_variant: true,
    params: &[ParamSpec {
        name: "flush",
        kind: ParamKind::Bool,
        default: ParamValue::Bool(true),
        doc: "whether the unmap flushes locally",
    }],
    build,
};

fn run(registry: &Registry, sets: &[&str]) -> RunResult {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.toml");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(
        f,
        "extends = \"default\"\npolicies = [\"unmap-local\"]\n[stop]\nios = 2000\nwarmup_ios = 200\n"
    )
    .unwrap();
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    let sc = scenarios::load_with(path.to_str().unwrap(), &sets, registry).expect("loads");
    let ctx = BuildContext {
        max_request_pages: sc.config.max_request_pages(),
    };
    let policy = registry.build(&sc.policies[0], &ctx).expect("builds");
    let (r, _) = machine::run(&sc.config, policy).expect("runs");
    assert_eq!(r.policy.name(), "unmap-local");
    r
}

#[test]
fn a_policy_registered_from_outside_runs_end_to_end() {
    let mut registry = Registry::builtin();
    registry.register(INFO).expect("a new name");

    let safe = run(&registry, &[]);
    assert_eq!(safe.io_completed, 2000);
    assert_eq!(safe.stale_uses(), 0, "buffers stay on their CPU");
    assert_eq!(safe.ipis_sent(), 0);
    assert_eq!(safe.shootdowns, 0);
    // One 4 KiB page per request, flushed at unmap (and nothing at map).
    assert_eq!(safe.flushes().local_page, safe.io_completed);

    let no_flush = run(&registry, &["policy.unmap-local.flush=false"]);
    assert!(
        no_flush.stale_uses() > 0,
        "a reused area without any flush must go stale"
    );
    assert_eq!(no_flush.flushes().local_page, 0);

    let migrating = run(&registry, &["host.migration_probability=0.3"]);
    assert!(
        migrating.stale_uses() > 0,
        "the CPU a thread migrated to keeps its entries"
    );
}

#[test]
fn an_unregistered_policy_is_a_located_error() {
    let e = scenarios::load("default", &["policies=[\"unmap-local\"]".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(
            "--set: policies.0: unknown policy `unmap-local` (allowed: {})",
            hypervisor::Registry::builtin().names()
        )),
        "{e}"
    );
}
