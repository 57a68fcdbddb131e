//! [`SortedQueue`]: a sorted vector while few events are pending, a binary
//! heap when many are.

use super::{Entry, EventQueue};
use crate::Instant;
use std::collections::BinaryHeap;

/// Above this many pending events the queue becomes a heap.
const TO_HEAP: usize = 64;
/// Below this many it becomes a sorted vector again (hysteresis, so a
/// length that hovers around one threshold does not convert back and forth).
const TO_SORTED: usize = 16;

/// The default event queue of [`crate::Engine`].
///
/// Same contract as every [`EventQueue`]: `(time, seq)` order, ties first
/// scheduled first (the tests of `queue/mod.rs` check it against a stable
/// sort for every implementation, across both representations).
///
/// Why: a simulation of a few CPUs has a handful of events pending (the
/// `default` scenario averages 6.4, at most 17), where a binary heap pays a
/// sift of unpredictable branches per pop and per push. Here, while at most
/// [`TO_HEAP`] events are pending, they are kept in a vector sorted by
/// decreasing key: `pop` takes the last element, and `push` walks from the
/// end past the events due before it (a new event is usually due soon, so
/// the walk is short) and shifts the rest by one. Past [`TO_HEAP`] (a
/// machine of hundreds of CPUs with a shootdown's IPIs in flight) it becomes
/// a [`BinaryHeap`] (O(log n) per operation) until fewer than [`TO_SORTED`]
/// are pending. Which representation holds the events never changes the
/// order they leave in: the key alone decides it.
pub struct SortedQueue<E> {
    /// Pending events by decreasing key while `!large`.
    sorted: Vec<Entry<E>>,
    /// Pending events while `large`.
    heap: BinaryHeap<Entry<E>>,
    large: bool,
    next_seq: u64,
}

impl<E> SortedQueue<E> {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(TO_HEAP)
    }

    /// An empty queue with room for `capacity` pending events.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            sorted: Vec::with_capacity(capacity.min(TO_HEAP + 1)),
            heap: BinaryHeap::with_capacity(capacity),
            large: false,
            next_seq: 0,
        }
    }
}

impl<E> Default for SortedQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> for SortedQueue<E> {
    #[inline]
    fn push(&mut self, time: Instant, event: E) {
        let entry = Entry::new(time, self.next_seq, event);
        self.next_seq += 1;
        if self.large {
            self.heap.push(entry);
            return;
        }
        let mut i = self.sorted.len();
        while i > 0 && self.sorted[i - 1].key < entry.key {
            i -= 1;
        }
        self.sorted.insert(i, entry);
        if self.sorted.len() > TO_HEAP {
            self.heap.extend(self.sorted.drain(..));
            self.large = true;
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<(Instant, E)> {
        if !self.large {
            return self.sorted.pop().map(|e| (e.time(), e.event));
        }
        let e = self.heap.pop().expect("a large queue is not empty");
        if self.heap.len() < TO_SORTED {
            // Ascending in the heap's (reversed) order: decreasing key.
            self.sorted
                .extend(std::mem::take(&mut self.heap).into_sorted_vec());
            self.large = false;
        }
        Some((e.time(), e.event))
    }

    #[inline]
    fn peek_time(&self) -> Option<Instant> {
        if self.large {
            self.heap.peek().map(Entry::time)
        } else {
            self.sorted.last().map(Entry::time)
        }
    }

    fn len(&self) -> usize {
        if self.large {
            self.heap.len()
        } else {
            self.sorted.len()
        }
    }
}
