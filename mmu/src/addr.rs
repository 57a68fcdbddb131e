//! Address-space newtypes: virtual addresses and pages, host-physical frames,
//! address-space identifiers, page sizes and cached translations.
//!
//! All page and frame numbers in this crate are in **4 KiB units**, whatever
//! the size of the mapping they belong to; a 2 MiB mapping is described by its
//! first (2 MiB-aligned) 4 KiB page and frame.

/// log2 of the base page size (4 KiB).
pub const PAGE_SHIFT: u32 = 12;

/// Number of 4 KiB pages in a 2 MiB page (512).
pub const PAGES_PER_2M: u64 = 512;

/// A virtual byte address in one address space of the host domain (bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct VirtAddr(pub u64);

impl VirtAddr {
    /// The 4 KiB virtual page containing this byte address (`vaddr >> 12`).
    #[inline]
    #[must_use]
    pub const fn page(self) -> VirtPage {
        VirtPage(self.0 >> PAGE_SHIFT)
    }

    /// Byte offset of this address within its 4 KiB page (bytes, 0..4096).
    #[inline]
    #[must_use]
    pub const fn page_offset(self) -> u64 {
        self.0 & ((1 << PAGE_SHIFT) - 1)
    }
}

/// A virtual page number in 4 KiB units (`vaddr >> 12`) of one address space.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct VirtPage(pub u64);

impl VirtPage {
    /// The virtual byte address of the first byte of this 4 KiB page.
    #[inline]
    #[must_use]
    pub const fn addr(self) -> VirtAddr {
        VirtAddr(self.0 << PAGE_SHIFT)
    }

    /// This page rounded down to the base page of the `size`-sized page that
    /// contains it (4 KiB units).
    #[inline]
    #[must_use]
    pub const fn align_down(self, size: PageSize) -> VirtPage {
        VirtPage(self.0 & !(size.pages_4k() - 1))
    }

    /// Whether this page is the first 4 KiB page of a `size`-sized page.
    #[inline]
    #[must_use]
    pub const fn is_aligned(self, size: PageSize) -> bool {
        self.0 & (size.pages_4k() - 1) == 0
    }
}

/// A host-physical frame number in 4 KiB units (host physical address >> 12).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct PhysFrame(pub u64);

impl PhysFrame {
    /// Whether this frame is the first 4 KiB frame of a `size`-sized frame.
    #[inline]
    #[must_use]
    pub const fn is_aligned(self, size: PageSize) -> bool {
        self.0 & (size.pages_4k() - 1) == 0
    }
}

/// An address-space identifier (x86 PCID, 12 bits used by hardware) that tags
/// TLB and paging-structure-cache entries.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Asid(pub u16);

/// The size of a page mapping (x86-64: a PT-level 4 KiB leaf or a PD-level
/// 2 MiB leaf; 1 GiB pages are not modelled).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub enum PageSize {
    /// A 4 KiB page (PT-level leaf).
    #[default]
    Size4K,
    /// A 2 MiB page (PD-level leaf), covering 512 4 KiB pages.
    Size2M,
}

impl PageSize {
    /// The page size in bytes (4096 or 2 097 152).
    #[inline]
    #[must_use]
    pub const fn bytes(self) -> u64 {
        self.pages_4k() << PAGE_SHIFT
    }

    /// The page size in 4 KiB pages (1 or 512).
    #[inline]
    #[must_use]
    pub const fn pages_4k(self) -> u64 {
        match self {
            PageSize::Size4K => 1,
            PageSize::Size2M => PAGES_PER_2M,
        }
    }

    /// log2 of [`PageSize::pages_4k`] (0 or 9): the shift from a 4 KiB page
    /// number to a page number in units of this size.
    #[inline]
    #[must_use]
    pub const fn shift_4k(self) -> u32 {
        match self {
            PageSize::Size4K => 0,
            PageSize::Size2M => 9,
        }
    }
}

/// One virtual-to-host-physical translation as cached by a TLB entry: the
/// mapping of the `size`-sized virtual page starting at `page` (4 KiB units,
/// aligned to `size`) of address space `asid` onto the host-physical frames
/// starting at `frame` (4 KiB units, aligned to `size`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Translation {
    /// The address space the translation belongs to.
    pub asid: Asid,
    /// First 4 KiB virtual page of the mapping (aligned to `size`).
    pub page: VirtPage,
    /// First 4 KiB host-physical frame of the mapping (aligned to `size`).
    pub frame: PhysFrame,
    /// Size of the mapping.
    pub size: PageSize,
}

impl Translation {
    /// Whether this translation covers 4 KiB page `page` of address space `asid`.
    #[inline]
    #[must_use]
    pub const fn covers(&self, asid: Asid, page: VirtPage) -> bool {
        self.asid.0 == asid.0
            && page.0 >> self.size.shift_4k() == self.page.0 >> self.size.shift_4k()
    }

    /// The 4 KiB host-physical frame holding byte `va` under this translation
    /// (`frame + (page(va) - page)`); `va` is assumed to be covered.
    #[inline]
    #[must_use]
    pub const fn frame_of(&self, va: VirtAddr) -> PhysFrame {
        let offset = va.page().0 & (self.size.pages_4k() - 1);
        PhysFrame(self.frame.0 + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_units() {
        assert_eq!(PageSize::Size4K.bytes(), 4096);
        assert_eq!(PageSize::Size2M.bytes(), 2 * 1024 * 1024);
        assert_eq!(PageSize::Size4K.pages_4k(), 1);
        assert_eq!(PageSize::Size2M.pages_4k(), 512);
    }

    #[test]
    fn addr_page_round_trip() {
        let va = VirtAddr(0x1234_5678);
        assert_eq!(va.page(), VirtPage(0x12345));
        assert_eq!(va.page().addr(), VirtAddr(0x1234_5000));
        assert_eq!(va.page_offset(), 0x678);
        assert_eq!(VirtPage(1000).align_down(PageSize::Size2M), VirtPage(512));
        assert!(VirtPage(1024).is_aligned(PageSize::Size2M));
        assert!(!VirtPage(1025).is_aligned(PageSize::Size2M));
    }

    #[test]
    fn translation_covers_and_frame_of() {
        let t = Translation {
            asid: Asid(1),
            page: VirtPage(512),
            frame: PhysFrame(4096),
            size: PageSize::Size2M,
        };
        assert!(t.covers(Asid(1), VirtPage(512)));
        assert!(t.covers(Asid(1), VirtPage(1023)));
        assert!(!t.covers(Asid(1), VirtPage(1024)));
        assert!(!t.covers(Asid(2), VirtPage(600)));
        assert_eq!(t.frame_of(VirtPage(515).addr()), PhysFrame(4099));
    }
}
