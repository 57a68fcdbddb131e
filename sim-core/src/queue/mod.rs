//! The pending-event set.

use crate::Instant;
use std::cmp::Ordering;

/// The set of pending events of a simulation.
///
/// # Ordering contract
/// Events leave the queue in increasing `(time, seq)` order, where `seq` is
/// the number of events pushed (or sequence numbers reserved) before this
/// one. Events scheduled for the same cycle therefore run in the order they
/// were scheduled (FIFO), which is
/// deterministic: it never depends on a hash, an address or an allocator.
pub trait EventQueue<E> {
    /// Schedules `event` at `time`. `time` may be any cycle, including one in
    /// the past of other pending events (the engine forbids scheduling before
    /// its current time).
    #[inline]
    fn push(&mut self, time: Instant, event: E) {
        let seq = self.reserve();
        self.push_reserved(time, seq, event);
    }
    /// Takes the sequence number the next push would get, without pushing:
    /// an event pushed later with it ([`push_reserved`](Self::push_reserved))
    /// orders among same-cycle events as if it had been pushed now. A model
    /// that would push several events of which only the last to leave has
    /// an effect (a shootdown's acknowledgements) reserves one number per
    /// event and pushes only that one: every other event keeps its number,
    /// so the order of what runs is exactly as with all of them pushed.
    fn reserve(&mut self) -> u64;
    /// Schedules `event` at `time` under sequence number `seq`, taken from
    /// [`reserve`](Self::reserve) and not used before.
    fn push_reserved(&mut self, time: Instant, seq: u64, event: E);
    /// Removes and returns the earliest event (ties: first scheduled first).
    fn pop(&mut self) -> Option<(Instant, E)>;
    /// The time of the earliest pending event.
    fn peek_time(&self) -> Option<Instant>;
    /// Number of pending events.
    fn len(&self) -> usize;
    /// True when no event is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

mod binary;
mod small;

/// The sequence numbers a queue hands out, in push order from 0.
#[derive(Debug, Default)]
struct Sequence {
    next: u64,
}

impl Sequence {
    /// The next number.
    #[inline]
    fn take(&mut self) -> u64 {
        self.next += 1;
        self.next - 1
    }

    /// Whether `seq` was handed out.
    #[inline]
    fn issued(&self, seq: u64) -> bool {
        seq < self.next
    }
}

/// One queued event, ordered by a packed `(time << 64) | seq` key.
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    /// The entry of `event` at `time`, the `seq`-th pushed.
    #[inline]
    fn new(time: Instant, seq: u64, event: E) -> Self {
        Self {
            key: (u128::from(time.0) << 64) | u128::from(seq),
            event,
        }
    }

    /// Its time.
    #[inline]
    fn time(&self) -> Instant {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "high half of a u128 built from a u64"
        )]
        Instant((self.key >> 64) as u64)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the smallest key first.
        other.key.cmp(&self.key)
    }
}

pub use binary::HeapQueue;
pub use small::SmallQueue;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Both implementations, each as a fresh queue.
    fn queues<E: 'static>() -> Vec<Box<dyn EventQueue<E>>> {
        vec![Box::new(HeapQueue::new()), Box::new(SmallQueue::new())]
    }

    #[test]
    fn ties_pop_in_scheduling_order() {
        for mut q in queues() {
            q.push(Instant(10), "b1");
            q.push(Instant(5), "a");
            q.push(Instant(10), "b2");
            q.push(Instant(10), "b3");
            q.push(Instant(7), "c");
            assert_eq!(q.peek_time(), Some(Instant(5)));
            let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
            assert_eq!(
                order,
                vec![
                    (Instant(5), "a"),
                    (Instant(7), "c"),
                    (Instant(10), "b1"),
                    (Instant(10), "b2"),
                    (Instant(10), "b3")
                ]
            );
            assert!(q.is_empty());
        }
    }

    proptest! {
        /// Against a naive reference: a stable sort by time of the pushes.
        #[test]
        fn pops_match_stable_sort(times in proptest::collection::vec(0u64..20, 0..200)) {
            for mut q in queues() {
                for (i, t) in times.iter().enumerate() {
                    q.push(Instant(*t), i);
                }
                let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
                expected.sort_by_key(|&(t, _)| t); // stable: ties keep push order
                let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop()).map(|(t, i)| (t.0, i)).collect();
                prop_assert_eq!(got, expected);
            }
        }

        /// A queue that grows past any representation threshold and shrinks
        /// back, twice, popping in between: the order is still a stable sort.
        #[test]
        fn grow_and_shrink(rounds in proptest::collection::vec((1usize..200, 0usize..200, 0u64..1000), 1..5)) {
            for mut q in queues() {
                let mut reference: Vec<(u64, u64)> = Vec::new();
                let (mut seq, mut now) = (0u64, 0u64);
                for &(pushes, pops, spread) in &rounds {
                    for i in 0..pushes as u64 {
                        let t = now + (i * 7919 + seq * 31) % (spread + 1);
                        q.push(Instant(t), seq);
                        reference.push((t, seq));
                        seq += 1;
                    }
                    reference.sort_unstable();
                    for _ in 0..pops.min(reference.len()) {
                        let want = reference.remove(0);
                        now = want.0;
                        prop_assert_eq!(q.pop().map(|(c, s)| (c.0, s)), Some(want));
                    }
                    prop_assert_eq!(q.len(), reference.len());
                }
                let rest: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop()).map(|(c, s)| (c.0, s)).collect();
                prop_assert_eq!(rest, reference);
            }
        }

        /// Events pushed later into places reserved earlier leave exactly as
        /// if they had been pushed when reserved (the reference pushes them
        /// then), whichever events are pushed or popped in between.
        #[test]
        fn reserved_places_order_as_if_pushed_when_reserved(
            ops in proptest::collection::vec((0u8..3, 0u64..40), 0..300)
        ) {
            for mut q in queues() {
                let mut reference: Vec<(u64, u64)> = Vec::new();
                let mut deferred: Vec<(u64, u64)> = Vec::new();
                let mut floor = 0u64;
                for &(op, dt) in &ops {
                    match op {
                        0 => {
                            let seq = q.reserve();
                            let t = floor + dt;
                            deferred.push((t, seq));
                            reference.push((t, seq));
                        }
                        1 => {
                            let seq = q.reserve();
                            q.push_reserved(Instant(floor + dt), seq, seq);
                            reference.push((floor + dt, seq));
                        }
                        _ => {
                            // Deferred events go in before anything due
                            // after their time leaves (never in the past).
                            for (t, seq) in deferred.drain(..) {
                                q.push_reserved(Instant(t), seq, seq);
                            }
                            reference.sort_unstable();
                            let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                            let got = q.pop().map(|(c, s)| (c.0, s));
                            prop_assert_eq!(got, want);
                            if let Some((t, _)) = got {
                                floor = t;
                            }
                        }
                    }
                }
            }
        }

        /// Interleaved pushes and pops still respect (time, seq) order, and
        /// `peek_time` and `len` agree with the reference throughout (times
        /// up to 2^64 - 1: the whole clock).
        #[test]
        fn interleaved_ops(ops in proptest::collection::vec((any::<bool>(), prop_oneof![0u64..50, any::<u64>()]), 0..300)) {
            for mut q in queues() {
                let mut reference: Vec<(u64, u64)> = Vec::new();
                let mut seq = 0u64;
                for &(is_push, t) in &ops {
                    if is_push {
                        q.push(Instant(t), seq);
                        reference.push((t, seq));
                        seq += 1;
                    } else {
                        reference.sort_unstable();
                        let want = if reference.is_empty() { None } else { Some(reference.remove(0)) };
                        prop_assert_eq!(q.pop().map(|(c, s)| (c.0, s)), want);
                    }
                    prop_assert_eq!(q.len(), reference.len());
                    prop_assert_eq!(q.peek_time().map(|c| c.0), reference.iter().map(|r| r.0).min());
                }
            }
        }
    }
}
