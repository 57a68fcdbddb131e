//! A fixed-size object pool with a free list (requests and shootdowns in
//! flight), indexed by a typed handle: no allocation per request once warmed
//! up, deterministic reuse order (the most recently freed slot first), and a
//! request handle cannot index the shootdown pool.

use std::marker::PhantomData;

/// A handle into a [`Slab`].
pub(super) trait Handle: Copy {
    /// The handle of slot `i`.
    fn from_slot(i: u32) -> Self;
    /// Its slot.
    fn slot(self) -> usize;
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl Handle for $name {
            fn from_slot(i: u32) -> Self {
                Self(i)
            }
            fn slot(self) -> usize {
                self.0 as usize
            }
        }
    };
}

handle!(
    /// A request in flight (from its arrival on a ring to its completion).
    RequestId
);
handle!(
    /// A trace request split into pieces (from its arrival to its last
    /// piece's completion).
    SplitId
);
handle!(
    /// A shootdown in progress (from its first IPI to its last
    /// acknowledgement).
    ShootdownId
);

/// The pool.
#[derive(Debug)]
pub(super) struct Slab<T, H> {
    items: Vec<T>,
    free: Vec<u32>,
    _handle: PhantomData<H>,
}

impl<T, H> Default for Slab<T, H> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            free: Vec::new(),
            _handle: PhantomData,
        }
    }
}

impl<T, H: Handle> Slab<T, H> {
    /// Stores `v`, reusing the most recently freed slot if any.
    pub(super) fn insert(&mut self, v: T) -> H {
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = v;
            H::from_slot(i)
        } else {
            self.items.push(v);
            H::from_slot(
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 objects in flight"),
            )
        }
    }

    /// Frees `h`'s slot (its value stays until the slot is reused).
    pub(super) fn remove(&mut self, h: H) {
        self.free
            .push(u32::try_from(h.slot()).expect("a handle's slot fits u32"));
    }

    /// Objects stored and not freed.
    pub(super) fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

impl<T, H: Handle> std::ops::Index<H> for Slab<T, H> {
    type Output = T;
    fn index(&self, h: H) -> &T {
        &self.items[h.slot()]
    }
}

impl<T, H: Handle> std::ops::IndexMut<H> for Slab<T, H> {
    fn index_mut(&mut self, h: H) -> &mut T {
        &mut self.items[h.slot()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_last_freed_first() {
        let mut s: Slab<u64, RequestId> = Slab::default();
        let a = s.insert(1);
        let b = s.insert(2);
        let c = s.insert(3);
        assert_eq!((s[a], s[b], s[c], s.live()), (1, 2, 3, 3));
        s.remove(a);
        s.remove(c);
        assert_eq!(s.live(), 1);
        assert_eq!(s.insert(4), c, "most recently freed first");
        assert_eq!(s.insert(5), a);
        assert_eq!((s[a], s[b], s[c]), (5, 2, 4));
        assert_eq!(s.insert(6), RequestId(3), "then a new slot");
    }
}
