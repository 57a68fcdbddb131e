//! A fixed-size object pool with a free list (requests and shootdowns in
//! flight): no allocation per request once warmed up, deterministic reuse.

/// A fixed-size object pool with a free list: no allocation per request once
/// warmed up, deterministic reuse order.
#[derive(Debug, Default)]
pub(super) struct Slab<T> {
    pub(super) items: Vec<T>,
    pub(super) free: Vec<u32>,
}

impl<T: Default> Slab<T> {
    pub(super) fn insert(&mut self, v: T) -> u32 {
        if let Some(i) = self.free.pop() {
            self.items[i as usize] = v;
            i
        } else {
            self.items.push(v);
            u32::try_from(self.items.len() - 1).expect("fewer than 2^32 objects in flight")
        }
    }
    pub(super) fn remove(&mut self, i: u32) {
        self.free.push(i);
    }
    pub(super) fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

impl<T> std::ops::Index<u32> for Slab<T> {
    type Output = T;
    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Slab<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}
