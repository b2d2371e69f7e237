//! A small allocator for the wasm build, replacing dlmalloc (about 7 KB of the
//! package). Every block is a power of two from 16 bytes up; blocks under 64 KiB
//! are carved from whole 64 KiB pages of their own size class, so each is
//! naturally aligned to its size, and freed blocks go on their class's free
//! list for reuse. Larger blocks are whole pages from `memory.grow`, also
//! recycled per class. Memory is never returned to the host (wasm cannot
//! shrink memory anyway); the footprint is bounded by the peak per class.
//! wasm32-unknown-unknown without threads is single-threaded.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr::null_mut;

const PAGE: usize = 65_536;
const MIN_CLASS: u32 = 4; // 16 bytes
const CLASSES: usize = 32;

pub struct SizeClassAlloc {
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: wasm32-unknown-unknown (no atomics) runs on a single thread.
unsafe impl Sync for SizeClassAlloc {}

impl SizeClassAlloc {
    pub const fn new() -> Self {
        SizeClassAlloc {
            free: UnsafeCell::new([null_mut(); CLASSES]),
        }
    }
}

fn class_of(layout: &Layout) -> Option<u32> {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    let class = size.checked_next_power_of_two()?.trailing_zeros();
    // Alignment beyond a page cannot be guaranteed by memory.grow.
    (layout.align() <= PAGE && (class as usize) < CLASSES).then_some(class)
}

fn grow(pages: usize) -> *mut u8 {
    let prev = core::arch::wasm32::memory_grow(0, pages);
    if prev == usize::MAX {
        null_mut()
    } else {
        (prev * PAGE) as *mut u8
    }
}

unsafe impl GlobalAlloc for SizeClassAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(&layout) else {
            return null_mut();
        };
        let free = &mut *self.free.get();
        let head = free[class as usize];
        if !head.is_null() {
            free[class as usize] = *(head as *mut *mut u8);
            return head;
        }
        let size = 1usize << class;
        if size >= PAGE {
            return grow(size / PAGE);
        }
        // Carve a fresh page into blocks of this class; hand out the first.
        let page = grow(1);
        if page.is_null() {
            return null_mut();
        }
        let mut next = null_mut();
        let mut off = PAGE - size;
        while off >= size {
            let block = page.add(off);
            *(block as *mut *mut u8) = next;
            next = block;
            off -= size;
        }
        free[class as usize] = next;
        page
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(class) = class_of(&layout) {
            let free = &mut *self.free.get();
            *(ptr as *mut *mut u8) = free[class as usize];
            free[class as usize] = ptr;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        // Same class: the block already has room.
        if class_of(&layout).is_some() && class_of(&layout) == class_of(&new_layout) {
            return ptr;
        }
        let new = self.alloc(new_layout);
        if !new.is_null() {
            core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}
