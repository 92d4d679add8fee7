//! Hints to the CPU that cost nothing when they are wrong.

/// Starts bringing the first `lines` cache lines of `value` into the CPU cache, without waiting for them.
#[inline(always)]
pub fn prefetch_lines<T>(value: &T, lines: usize) {
    let start = (value as *const T).cast::<u8>();
    for line in 0..lines {
        prefetch_byte(start.wrapping_add(line * 64));
    }
}

#[inline(always)]
fn prefetch_byte(byte: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` only hints the cache: it never faults (not even on an invalid address), reads nothing
    // into the program and writes nothing. SSE, its target feature, is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(byte.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = byte;
}
