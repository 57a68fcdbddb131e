//! The scenario file format: serde types owned by this crate, one per
//! section of the plain core configuration ([`machine::SimConfig`] and the
//! types it holds), converted to and from them.
//!
//! Each type here has the name and the fields of the core type it mirrors,
//! so serde's messages name what the user sees in the docs (`expected struct
//! TlbGeometry`), and a core [`KeyPath`] names the same key in the file
//! ([`file_key`]). The [`section!`] and [`choice!`] macros write each type's
//! conversions from one list of fields or variants, exhaustively: a field
//! added to a core type does not compile until the format says how it is
//! written. Defaults are the core types' `Default` impls, converted.

use std::fmt;

use machine::{KeyPath, KeySegment};
use serde::{Deserialize, Serialize};

/// The plain core types the format converts into.
mod plain {
    pub(super) use cpu_model::{CostTable, IpiDeliveryMode};
    pub(super) use machine::{
        BackgroundConfig, BackgroundModel, CState, CostDistributions, Distribution, HostConfig,
        IdleConfig, IoPathConfig, IrqOffConfig, LockKind, LockWaiter, MachineConfig,
        MigrationLevel, PvTlbFlush, ShootdownScope, SimConfig, StopConfig, Touch,
        VariabilityConfig, VcpuConfig,
    };
    pub(super) use mmu::{TlbConfig, TlbGeometry};
    pub(super) use workloads::{GuestConfig, Pattern, SizeSpec, Split};
}

/// A file-format type and the plain core type it converts to and from.
pub(crate) trait Mirror: Sized {
    /// The core type.
    type Core;
    /// The core value as the file writes it.
    fn from_core(core: &Self::Core) -> Self;
    /// The core value this file content means.
    fn into_core(self) -> Self::Core;
}

/// Values written as themselves.
macro_rules! as_is {
    ($($t:ty),*) => {
        $(impl Mirror for $t {
            type Core = $t;
            fn from_core(core: &$t) -> Self {
                core.clone()
            }
            fn into_core(self) -> $t {
                self
            }
        })*
    };
}
as_is!(u32, u64, usize, f64, bool, String);

impl<T: Mirror> Mirror for Option<T> {
    type Core = Option<T::Core>;
    fn from_core(core: &Self::Core) -> Self {
        core.as_ref().map(T::from_core)
    }
    fn into_core(self) -> Self::Core {
        self.map(T::into_core)
    }
}

impl<T: Mirror> Mirror for Vec<T> {
    type Core = Vec<T::Core>;
    fn from_core(core: &Self::Core) -> Self {
        core.iter().map(T::from_core).collect()
    }
    fn into_core(self) -> Self::Core {
        self.into_iter().map(T::into_core).collect()
    }
}

/// A table of the format: the struct (fields named as the core type's) and
/// its conversions.
macro_rules! section {
    ($(#[$attr:meta])* $name:ident { $($(#[$fattr:meta])* $field:ident: $ty:ty,)* }) => {
        #[derive(Clone, Debug, Serialize, Deserialize)]
        $(#[$attr])*
        pub(crate) struct $name {
            $($(#[$fattr])* pub(crate) $field: $ty,)*
        }

        impl Mirror for $name {
            type Core = plain::$name;
            fn from_core(core: &plain::$name) -> Self {
                Self {
                    $($field: <$ty as Mirror>::from_core(&core.$field),)*
                }
            }
            fn into_core(self) -> plain::$name {
                plain::$name {
                    $($field: self.$field.into_core(),)*
                }
            }
        }
    };
}

/// A string value naming one of a core enum's unit variants.
macro_rules! choice {
    ($(#[$attr:meta])* $name:ident { $($variant:ident,)* }) => {
        #[derive(Clone, Copy, Debug, Serialize, Deserialize)]
        $(#[$attr])*
        pub(crate) enum $name {
            $($variant,)*
        }

        impl Mirror for $name {
            type Core = plain::$name;
            fn from_core(core: &plain::$name) -> Self {
                match core {
                    $(plain::$name::$variant => Self::$variant,)*
                }
            }
            fn into_core(self) -> plain::$name {
                match self {
                    $(Self::$variant => plain::$name::$variant,)*
                }
            }
        }
    };
}

/// `Default` from the core type's, so defaults are defined once.
macro_rules! default_from_core {
    ($($name:ident),*) => {
        $(impl Default for $name {
            fn default() -> Self {
                Self::from_core(&plain::$name::default())
            }
        })*
    };
}

section! {
    /// The whole file, less `description`, `extends`, `policies` and
    /// `[policy.NAME]` (handled before it is deserialized).
    #[serde(deny_unknown_fields, default)]
    SimConfig {
        seed: u64,
        stop: StopConfig,
        machine: MachineConfig,
        costs: CostTable,
        host: HostConfig,
        background: BackgroundConfig,
        guests: Vec<GuestConfig>,
        // Left out when off, so that the scenario hash (and `--show`) of
        // every scenario written before these sections stays the same.
        #[serde(skip_serializing_if = "is_core_default")]
        vcpu: VcpuConfig,
        #[serde(skip_serializing_if = "is_core_default")]
        idle: IdleConfig,
        #[serde(skip_serializing_if = "is_core_default")]
        io: IoPathConfig,
        variability: VariabilityConfig,
    }
}

section! {
    /// `[variability]`.
    #[serde(deny_unknown_fields, default)]
    VariabilityConfig {
        costs: CostDistributions,
        irq_off: IrqOffConfig,
    }
}

section! {
    /// `[variability.costs]`: a distribution per variable cost, its mean
    /// the `costs.*` key of the same name.
    #[serde(deny_unknown_fields, default)]
    CostDistributions {
        invlpg_cycles: Distribution,
        full_flush_cycles: Distribution,
        hypercall_cycles: Distribution,
        map_page_cycles: Distribution,
        unmap_page_cycles: Distribution,
        ipi_send_cycles: Distribution,
        ipi_delivery_cycles: Distribution,
        ipi_receive_cycles: Distribution,
        ipi_hypercall_cycles: Distribution,
        ipi_handler_cycles: Distribution,
        ack_cycles: Distribution,
        flush_lock_cycles: Distribution,
        map_lock_cycles: Distribution,
        map_lock_wake_cycles: Distribution,
        dequeue_cycles: Distribution,
        notify_cycles: Distribution,
        complete_cycles: Distribution,
        data_line_cycles: Distribution,
        migrate_cycles: Distribution,
    }
}

section! {
    /// `[variability.irq_off]`.
    #[serde(deny_unknown_fields, default)]
    IrqOffConfig {
        probability: f64,
        mean_cycles: u64,
        distribution: Distribution,
    }
}

/// Whether a section means its core type's default.
/// Whether a cost is 0 (for keys left out of the hash when off).
#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's signature")]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_core_default<T>(v: &T) -> bool
where
    T: Mirror + Clone,
    T::Core: Default + PartialEq,
{
    v.clone().into_core() == T::Core::default()
}

section! {
    /// `[io]`.
    #[serde(deny_unknown_fields, default)]
    IoPathConfig {
        asynchronous: bool,
        ring_slots: u32,
        device_cycles_per_kib: u64,
        backend_working_set_pages: u32,
        map_lock_kind: LockKind,
        drain_requests: u32,
        drain_unmaps: bool,
        threads_per_cpu: u32,
        switch_cycles: u64,
        thread_slice_cycles: u64,
        switch_flush: bool,
        device_queues: u32,
        header_copy_bytes: u64,
        header_copy_op_cycles: u64,
        header_copy_cycles_per_kib: u64,
    }
}

choice! {
    /// `io.map_lock_kind`.
    #[serde(rename_all = "kebab-case")]
    LockKind { Exclusive, ReaderWriter, PerEntry, PerCpuReaderWriter, }
}

section! {
    /// `[stop]`.
    #[serde(deny_unknown_fields, default)]
    StopConfig {
        ios: u64,
        warmup_ios: u64,
        max_cycles: u64,
    }
}

section! {
    /// `[machine]`.
    #[serde(deny_unknown_fields, default)]
    MachineConfig {
        cpus: u32,
        frequency_ghz: f64,
        tlb: TlbConfig,
        pwc_entries: u32,
        ipi_delivery: IpiDeliveryMode,
    }
}

choice! {
    /// `machine.ipi_delivery`.
    #[serde(rename_all = "kebab-case")]
    IpiDeliveryMode { Unicast, X2apicCluster, Shorthand, PvSendIpi, }
}

section! {
    /// `machine.tlb`.
    #[serde(deny_unknown_fields, default)]
    TlbConfig {
        l1: TlbGeometry,
        #[serde(with = "level_or_false")]
        l2: Option<TlbGeometry>,
    }
}

section! {
    /// One TLB level: both keys required.
    #[serde(deny_unknown_fields)]
    TlbGeometry {
        entries: usize,
        ways: usize,
    }
}

section! {
    /// `[costs]` (less `preset`, which picks the defaults).
    #[serde(deny_unknown_fields, default)]
    CostTable {
        invlpg_cycles: u64,
        full_flush_cycles: u64,
        hypercall_cycles: u64,
        map_page_cycles: u64,
        unmap_page_cycles: u64,
        ipi_send_cycles: u64,
        ipi_delivery_cycles: u64,
        ipi_receive_cycles: u64,
        ipi_hypercall_cycles: u64,
        ipi_handler_cycles: u64,
        ack_cycles: u64,
        flush_lock_cycles: u64,
        map_lock_cycles: u64,
        map_lock_spin_cycles: u64,
        map_lock_wake_cycles: u64,
        l2_hit_cycles: u64,
        walk_level_cycles: u64,
        nested_paging: bool,
        dequeue_cycles: u64,
        notify_cycles: u64,
        complete_cycles: u64,
        data_line_cycles: u64,
        migrate_cycles: u64,
        background_access_cycles: u64,
        // Left out when 0, so that every earlier scenario's hash stays.
        #[serde(skip_serializing_if = "is_zero")]
        ipi_send_halted_target_cycles: u64,
    }
}

section! {
    /// `[host]`.
    #[serde(deny_unknown_fields, default)]
    HostConfig {
        io_cpus: u32,
        migration_probability: f64,
        touch: Touch,
        touch_header_bytes: u64,
        flush_ceiling_pages: u32,
        map_lock: bool,
        map_lock_through_flush: bool,
        map_lock_waiter: LockWaiter,
        process_cycles: u64,
        process_distribution: Distribution,
        device_cycles: u64,
        device_distribution: Distribution,
        shootdown_scope: ShootdownScope,
        migration_level: MigrationLevel,
        other_domain_flushes_per_sec: f64,
        other_domain_flush_cycles: u64,
        local_flush_before_lock: bool,
        // Left out when off, so that every earlier scenario's hash stays.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        map_lock_steal: bool,
    }
}

choice! {
    /// `host.shootdown_scope`.
    #[serde(rename_all = "kebab-case")]
    ShootdownScope { All, DirtyMask, MmCpumask, }
}

choice! {
    /// `host.migration_level`.
    #[serde(rename_all = "kebab-case")]
    MigrationLevel { Interrupt, Thread, }
}

choice! {
    /// `host.touch`.
    #[serde(rename_all = "kebab-case")]
    Touch { Line, PageLookup, Page, Header, Dma, }
}

choice! {
    /// `host.map_lock_waiter`.
    #[serde(rename_all = "kebab-case")]
    LockWaiter { Sleep, Spin, SpinThenSleep, }
}

/// A distribution (`host.process_distribution`, `[variability.costs]`):
/// `"fixed"`, `"exponential"`, or a table naming it with its parameter.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "must be \"fixed\", \"exponential\", { dist = \"uniform\", spread = .. }, { dist = \"lognormal\", cv = .. } or { dist = \"fixed\" | \"exponential\" }"
)]
pub(crate) enum Distribution {
    Named(DistributionName),
    Table(DistributionTable),
}

/// The distributions written as a bare name.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DistributionName {
    Fixed,
    Exponential,
}

/// A distribution written as a table, `dist` naming it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub(crate) enum DistributionTable {
    Fixed {},
    Uniform { spread: f64 },
    Exponential {},
    Lognormal { cv: f64 },
}

impl Mirror for Distribution {
    type Core = plain::Distribution;
    fn from_core(core: &plain::Distribution) -> Self {
        match *core {
            plain::Distribution::Fixed => Self::Named(DistributionName::Fixed),
            plain::Distribution::Exponential => Self::Named(DistributionName::Exponential),
            plain::Distribution::Uniform { spread } => {
                Self::Table(DistributionTable::Uniform { spread })
            }
            plain::Distribution::Lognormal { cv } => {
                Self::Table(DistributionTable::Lognormal { cv })
            }
        }
    }
    fn into_core(self) -> plain::Distribution {
        match self {
            Self::Named(DistributionName::Fixed) | Self::Table(DistributionTable::Fixed {}) => {
                plain::Distribution::Fixed
            }
            Self::Named(DistributionName::Exponential)
            | Self::Table(DistributionTable::Exponential {}) => plain::Distribution::Exponential,
            Self::Table(DistributionTable::Uniform { spread }) => {
                plain::Distribution::Uniform { spread }
            }
            Self::Table(DistributionTable::Lognormal { cv }) => {
                plain::Distribution::Lognormal { cv }
            }
        }
    }
}

section! {
    /// `[background]`.
    #[serde(deny_unknown_fields, default)]
    BackgroundConfig {
        enabled: bool,
        working_set_pages: u32,
        cycles_between_accesses: u64,
        model: BackgroundModel,
    }
}

choice! {
    /// `background.model`.
    #[serde(rename_all = "lowercase")]
    BackgroundModel { Exact, Curve, }
}

section! {
    /// `[vcpu]`.
    #[serde(deny_unknown_fields, default)]
    VcpuConfig {
        overcommit: u32,
        tenant_load: f64,
        host_slice_us: f64,
        pv_tlb_flush: PvTlbFlush,
    }
}

choice! {
    /// `vcpu.pv_tlb_flush`.
    #[serde(rename_all = "kebab-case")]
    PvTlbFlush { Off, On, SkipOnly, }
}

section! {
    /// `[idle]`.
    #[serde(deny_unknown_fields, default)]
    IdleConfig {
        cstate: CState,
        halted_vcpu: bool,
        halt_poll_us: f64,
        host_wake_us: f64,
    }
}

choice! {
    /// `idle.cstate`.
    #[serde(rename_all = "lowercase")]
    CState { Poll, C1, C1e, C6, }
}

section! {
    /// One `[[guests]]` element.
    #[serde(deny_unknown_fields, default)]
    GuestConfig {
        pattern: Pattern,
        rate_iops: f64,
        queue_depth: u32,
        think_time_ns: f64,
        size_bytes: SizeSpec,
        read_fraction: f64,
        queues: u32,
        buffer_pages: u32,
        trace: String,
        trace_format: String,
        time_scale: f64,
        trace_device: Option<u32>,
        split: Split,
        max_request_bytes: Option<u64>,
    }
}

choice! {
    /// `guests.N.pattern`.
    #[serde(rename_all = "lowercase")]
    Pattern { Open, Closed, Trace, }
}

default_from_core!(
    SimConfig,
    StopConfig,
    MachineConfig,
    TlbConfig,
    CostTable,
    HostConfig,
    BackgroundConfig,
    GuestConfig,
    VcpuConfig,
    IdleConfig,
    IoPathConfig,
    VariabilityConfig,
    CostDistributions,
    IrqOffConfig
);

/// `guests.N.size_bytes`: a number, `{ min, max, align }` or
/// `{ values, weights }`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "must be a number of bytes, { min = .., max = .., align = .. } or { values = [..], weights = [..] }"
)]
pub(crate) enum SizeSpec {
    Fixed(u64),
    Uniform {
        min: u64,
        max: u64,
        #[serde(default = "any_alignment")]
        align: u64,
    },
    Choice {
        values: Vec<u64>,
        #[serde(default)]
        weights: Vec<f64>,
    },
}

/// `guests.N.split`: a protocol's name or a piece size in bytes.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "must be \"none\", \"blkif\", \"blkif-indirect\" or a number of bytes"
)]
pub(crate) enum Split {
    Named(SplitName),
    Bytes(u64),
}

/// The named values of `guests.N.split`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum SplitName {
    None,
    Blkif,
    BlkifIndirect,
}

impl Mirror for Split {
    type Core = plain::Split;
    fn from_core(core: &plain::Split) -> Self {
        match *core {
            plain::Split::None => Self::Named(SplitName::None),
            plain::Split::Blkif => Self::Named(SplitName::Blkif),
            plain::Split::BlkifIndirect => Self::Named(SplitName::BlkifIndirect),
            plain::Split::Bytes(n) => Self::Bytes(n),
        }
    }
    fn into_core(self) -> plain::Split {
        match self {
            Self::Named(SplitName::None) => plain::Split::None,
            Self::Named(SplitName::Blkif) => plain::Split::Blkif,
            Self::Named(SplitName::BlkifIndirect) => plain::Split::BlkifIndirect,
            Self::Bytes(n) => plain::Split::Bytes(n),
        }
    }
}

/// `align` when a uniform size does not say: any size.
fn any_alignment() -> u64 {
    1
}

impl Mirror for SizeSpec {
    type Core = plain::SizeSpec;
    fn from_core(core: &plain::SizeSpec) -> Self {
        match core.clone() {
            plain::SizeSpec::Fixed(v) => Self::Fixed(v),
            plain::SizeSpec::Uniform { min, max, align } => Self::Uniform { min, max, align },
            plain::SizeSpec::Choice { values, weights } => Self::Choice { values, weights },
        }
    }
    fn into_core(self) -> plain::SizeSpec {
        match self {
            Self::Fixed(v) => plain::SizeSpec::Fixed(v),
            Self::Uniform { min, max, align } => plain::SizeSpec::Uniform { min, max, align },
            Self::Choice { values, weights } => plain::SizeSpec::Choice { values, weights },
        }
    }
}

/// `machine.tlb.l2`: a level, or `false` for none.
mod level_or_false {
    use super::{fmt, TlbGeometry};
    use serde::de::{self, MapAccess, Unexpected, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        l2: &Option<TlbGeometry>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match l2 {
            Some(level) => level.serialize(s),
            None => s.serialize_bool(false),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TlbGeometry>, D::Error> {
        struct LevelOrFalse;
        impl<'de> Visitor<'de> for LevelOrFalse {
            type Value = Option<TlbGeometry>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("struct TlbGeometry (or false for no second-level TLB)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                if v {
                    Err(E::invalid_type(Unexpected::Bool(v), &self))
                } else {
                    Ok(None)
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                TlbGeometry::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
            }
        }
        d.deserialize_any(LevelOrFalse)
    }
}

/// The dotted file key of a core [`KeyPath`]: the format names every key
/// as the core field it mirrors (the macros above use one identifier for
/// both), and a list element by its index.
pub(crate) fn file_key(path: &KeyPath) -> String {
    path.segments()
        .iter()
        .map(|s| match s {
            KeySegment::Field(name) => (*name).to_string(),
            KeySegment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::get_path;
    use toml::Table;

    /// A core config with (nearly) every validation problem at once.
    fn broken() -> plain::SimConfig {
        let mut c = plain::SimConfig::default();
        c.stop.ios = 0;
        c.machine.cpus = 0;
        c.machine.frequency_ghz = -1.0;
        c.machine.tlb.l1.entries = 0;
        c.machine.tlb.l2 = Some(plain::TlbGeometry {
            entries: 10,
            ways: 4,
        });
        c.machine.pwc_entries = 0;
        c.costs.hypercall_cycles = 0;
        c.costs.ipi_delivery_cycles = 0;
        c.costs.data_line_cycles = 0;
        c.host.migration_probability = 2.0;
        c.background.working_set_pages = 0;
        c.background.cycles_between_accesses = 0;
        let closed = plain::GuestConfig {
            queue_depth: 0,
            think_time_ns: -1.0,
            read_fraction: 2.0,
            queues: 0,
            size_bytes: plain::SizeSpec::Uniform {
                min: 0,
                max: 4096,
                align: 0,
            },
            ..plain::GuestConfig::default()
        };
        let open = plain::GuestConfig {
            pattern: plain::Pattern::Open,
            rate_iops: 0.0,
            size_bytes: plain::SizeSpec::Choice {
                values: vec![],
                weights: vec![1.0, -2.0],
            },
            ..plain::GuestConfig::default()
        };
        let trace = plain::GuestConfig {
            pattern: plain::Pattern::Trace,
            trace_format: "x".into(),
            time_scale: 0.0,
            buffer_pages: 0,
            size_bytes: plain::SizeSpec::Fixed(0),
            ..plain::GuestConfig::default()
        };
        c.guests = vec![closed, open, trace];
        c
    }

    #[test]
    fn every_core_problem_path_is_a_key_of_the_file() {
        let c = broken();
        let problems = c.problems();
        assert!(problems.len() >= 25, "{problems:?}");
        let tree = Table::try_from(SimConfig::from_core(&c)).unwrap();
        for p in &problems {
            let key = file_key(&p.key);
            assert!(
                get_path(&tree, &key).is_some(),
                "{key} ({p}) not in the file"
            );
        }
    }

    #[test]
    fn conversions_round_trip_and_defaults_are_the_core_defaults() {
        let c = broken();
        assert_eq!(SimConfig::from_core(&c).into_core(), c);
        assert_eq!(
            SimConfig::default().into_core(),
            plain::SimConfig::default()
        );
        let no_l2 = plain::SimConfig {
            machine: plain::MachineConfig {
                tlb: plain::TlbConfig {
                    l2: None,
                    ..plain::TlbConfig::default()
                },
                ..plain::MachineConfig::default()
            },
            ..plain::SimConfig::default()
        };
        let tree = Table::try_from(SimConfig::from_core(&no_l2)).unwrap();
        assert_eq!(
            get_path(&tree, "machine.tlb.l2"),
            Some(&toml::Value::Boolean(false))
        );
        let back: SimConfig = tree.try_into().unwrap();
        assert_eq!(back.into_core(), no_l2);
    }
}
