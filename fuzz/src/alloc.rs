//! A global allocator that measures, per thread, what one fuzz input
//! allocates: the largest single request and the peak of live bytes. The
//! driver turns it on around each input and checks the numbers against the
//! input's size, so a decoder that preallocates from a length it was told
//! (`99999999999\n`) fails the run instead of passing unnoticed.
//!
//! A request so large that the system cannot serve it aborts the process
//! (Rust's allocation-error handler cannot be hooked on stable), so the
//! allocator first writes the input being run to stderr, in hex, with no
//! allocation of its own.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

/// The measuring allocator; `corral-fuzz` installs it as the global one.
#[derive(Debug)]
pub struct Measuring;

#[derive(Clone, Copy)]
struct Tracking {
    on: bool,
    live: usize,
    peak: usize,
    largest: usize,
    /// Requests above this are reported at once (see the module docs).
    alarm: usize,
    input: (*const u8, usize),
}

thread_local! {
    static TRACKING: Cell<Tracking> = const {
        Cell::new(Tracking {
            on: false,
            live: 0,
            peak: 0,
            largest: 0,
            alarm: usize::MAX,
            input: (std::ptr::null(), 0),
        })
    };
}

/// What one input allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// The largest single allocation or reallocation asked for, in bytes.
    pub largest: usize,
    /// The most bytes live at once, counted from the start of the input.
    pub peak: usize,
}

/// Measures what `f` allocates on this thread while it runs `input`;
/// a single request above `alarm` bytes prints `input` to stderr first.
pub fn measure<T>(input: &[u8], alarm: usize, f: impl FnOnce() -> T) -> (T, Usage) {
    TRACKING.with(|t| {
        t.set(Tracking {
            on: true,
            live: 0,
            peak: 0,
            largest: 0,
            alarm,
            input: (input.as_ptr(), input.len()),
        })
    });
    struct Off;
    impl Drop for Off {
        fn drop(&mut self) {
            TRACKING.with(|t| {
                let mut now = t.get();
                now.on = false;
                now.input = (std::ptr::null(), 0);
                t.set(now);
            });
        }
    }
    let off = Off;
    let value = f();
    drop(off);
    let now = TRACKING.with(Cell::get);
    (
        value,
        Usage {
            largest: now.largest,
            peak: now.peak,
        },
    )
}

fn on_alloc(size: usize) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let _ = TRACKING.try_with(|t| {
        let mut now = t.get();
        if !now.on {
            return;
        }
        now.live = now.live.saturating_add(size);
        now.peak = now.peak.max(now.live);
        now.largest = now.largest.max(size);
        let alarm = size > now.alarm;
        let input = now.input;
        if alarm {
            // Once per input: the report below is enough.
            now.alarm = usize::MAX;
        }
        t.set(now);
        if alarm {
            report(size, input);
        }
    });
}

fn on_free(size: usize) {
    let _ = TRACKING.try_with(|t| {
        let mut now = t.get();
        if now.on {
            now.live = now.live.saturating_sub(size);
            t.set(now);
        }
    });
}

/// Writes `size` and the input to stderr with `write(2)`, allocating nothing.
fn report(size: usize, (ptr, len): (*const u8, usize)) {
    fn write(bytes: &[u8]) {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes; fd 2 is
        // stderr, and a failed write is of no consequence here.
        unsafe { nix::libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
    }
    let mut number = [0u8; 20];
    let mut at = number.len();
    let mut n = size;
    loop {
        at -= 1;
        number[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write(b"\ncorral-fuzz: an allocation of ");
    write(&number[at..]);
    write(b" bytes for the input (hex): ");
    if !ptr.is_null() {
        // SAFETY: `measure` set (ptr, len) from a slice that outlives the
        // measured call, and reset it when the call ended.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut line = [0u8; 128];
        for chunk in input.chunks(line.len() / 2) {
            for (i, b) in chunk.iter().enumerate() {
                line[2 * i] = HEX[usize::from(b >> 4)];
                line[2 * i + 1] = HEX[usize::from(b & 15)];
            }
            write(&line[..2 * chunk.len()]);
        }
    }
    write(b"\n");
}

// SAFETY: every call is forwarded to `System` unchanged; the bookkeeping
// around it touches only a `const`-initialised thread-local `Cell`, which
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: the caller's contract is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(layout.size());
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_free(layout.size());
        on_alloc(new_size);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
