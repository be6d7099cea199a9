//! Fuzz targets for every decoder of Corral that takes bytes from the
//! network, and the small deterministic driver that runs them on stable
//! Rust, with no tool beyond cargo.
//!
//! Each [`Target`] checks one decoder: it never panics, and what it accepts
//! has the target's properties (round trips, RecordIO framing that does not
//! depend on chunking, sandbox paths that stay in the sandbox, ...). The
//! driver ([`run`]) feeds it the target's seeds (real calls, events and
//! streams), then mutations of the inputs it accepted so far and, for the
//! message decoders, messages generated from their protobuf descriptors.
//! Around every input it measures allocations ([`alloc`]): a decoder may
//! not allocate more than [`allocation_bound`] for an input of a given
//! size. Runs are deterministic for a seed; a failure names the target,
//! the seed and the input, and saves the input for `corral-fuzz replay`.
//!
//! `cargo test -p corral-fuzz` runs every target briefly
//! (`tests/targets.rs`); the `corral-fuzz` binary runs them long
//! (`docs/security.md`, "Fuzzing").

use std::{
    panic::{self, AssertUnwindSafe},
    path::PathBuf,
    time::{Duration, Instant},
};

pub mod alloc;
pub mod generate;
pub mod targets;

#[global_allocator]
static ALLOCATOR: alloc::Measuring = alloc::Measuring;

/// A small, fast, deterministic random number generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Small lengths mostly, sometimes up to `max`.
    pub fn length(&mut self, max: usize) -> usize {
        match self.below(4) {
            0..=1 => self.below(max.min(8) + 1),
            2 => self.below(max.min(64) + 1),
            _ => self.below(max + 1),
        }
    }
}

/// Whether a target accepted an input (a valid one is kept to mutate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
}

/// A target's check, with whatever it set up (files, descriptors).
pub type Check = Box<dyn FnMut(&[u8]) -> Verdict>;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    /// What it checks, for `corral-fuzz list` and the docs.
    pub about: &'static str,
    /// Real inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Well-formed inputs made from scratch (messages from descriptors).
    pub generate: Option<fn(&mut Rng) -> Vec<u8>>,
    /// Tokens the mutator splices in (field names, keywords, numbers).
    pub dictionary: fn() -> Vec<Vec<u8>>,
    /// Sets the target up and returns its check, which panics when a
    /// property does not hold.
    pub setup: fn() -> Check,
    /// Mutated inputs are cut to this length.
    pub max_len: usize,
}

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub inputs: u64,
    pub time: Duration,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub seed: u64,
    pub inputs: u64,
    pub accepted: u64,
    pub elapsed: Duration,
    /// Inputs kept to mutate at the end.
    pub pool: usize,
    pub largest_allocation: usize,
    pub slowest: Duration,
}

/// A property that did not hold, or a panic.
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: &'static str,
    pub seed: u64,
    /// The index of the input in the run.
    pub input_number: u64,
    pub input: Vec<u8>,
    pub message: String,
    /// Where the input was saved, if it could be.
    pub saved: Option<PathBuf>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "fuzz target '{}' failed on input {} of seed {}: {}",
            self.target, self.input_number, self.seed, self.message
        )?;
        writeln!(
            f,
            "input ({} bytes): {}",
            self.input.len(),
            show(&self.input)
        )?;
        match &self.saved {
            Some(path) => write!(
                f,
                "saved as {}; replay with: cargo run -p corral-fuzz -- replay {} {}",
                path.display(),
                self.target,
                path.display()
            ),
            None => write!(f, "(the input could not be saved)"),
        }
    }
}

/// Bytes as an escaped byte string, cut at 2,000 characters.
pub fn show(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() > 2000 {
        format!("b\"{}\"... ({} bytes)", &text[..2000], bytes.len())
    } else {
        format!("b\"{text}\"")
    }
}

/// The most one input of `len` bytes may allocate, in one request and live
/// at once: decoders work in proportion to their input, so anything past
/// this is a length or count believed from the input.
pub fn allocation_bound(len: usize) -> usize {
    (1 << 20) + 64 * len
}

/// The seed a target runs with by default: its name's hash, so that runs
/// are the same every time; `CORRAL_FUZZ_SEED` overrides it.
pub fn default_seed(target: &Target) -> u64 {
    target.name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

const POOL_MAX: usize = 4096;

/// Runs `target` within `budget`, from `seed`.
pub fn run(target: &Target, budget: Budget, seed: u64) -> Result<Report, Box<Failure>> {
    let mut check = (target.setup)();
    let mut rng = Rng::new(seed);
    let dictionary = (target.dictionary)();
    let mut pool: Vec<Vec<u8>> = (target.seeds)();
    let seeds = pool.clone();
    let start = Instant::now();
    let mut report = Report {
        target: target.name,
        seed,
        inputs: 0,
        accepted: 0,
        elapsed: Duration::ZERO,
        pool: 0,
        largest_allocation: 0,
        slowest: Duration::ZERO,
    };
    let mut input = Vec::new();
    while report.inputs < budget.inputs
        && (!report.inputs.is_multiple_of(64) || start.elapsed() < budget.time)
    {
        let n = report.inputs;
        input.clear();
        if (n as usize) < seeds.len() {
            input.extend_from_slice(&seeds[n as usize]);
        } else if let Some(generate) = target.generate.filter(|_| rng.one_in(4)) {
            input = generate(&mut rng);
        } else {
            input.extend_from_slice(&pool[rng.below(pool.len())]);
            let rounds = 1 + rng.below(4) + if rng.one_in(4) { rng.below(12) } else { 0 };
            for _ in 0..rounds {
                mutate(&mut rng, &mut input, &pool, &dictionary, target.max_len);
            }
        }
        let bound = allocation_bound(input.len());
        let began = Instant::now();
        let (outcome, usage) = alloc::measure(&input, bound, || {
            panic::catch_unwind(AssertUnwindSafe(|| check(&input)))
        });
        report.slowest = report.slowest.max(began.elapsed());
        report.largest_allocation = report.largest_allocation.max(usage.largest);
        report.inputs += 1;
        let fail = |message: String| {
            let saved = save(target.name, &input);
            Box::new(Failure {
                target: target.name,
                seed,
                input_number: n,
                input: input.clone(),
                message,
                saved,
            })
        };
        match outcome {
            Err(payload) => return Err(fail(panic_message(&payload))),
            Ok(_) if usage.largest > bound || usage.peak > 4 * bound => {
                return Err(fail(format!(
                    "allocated {} bytes in one request and {} at once for {} bytes of input \
                     (bound {bound})",
                    usage.largest,
                    usage.peak,
                    input.len()
                )))
            }
            Ok(Verdict::Accepted) => {
                report.accepted += 1;
                if (n as usize) >= seeds.len() {
                    if pool.len() < POOL_MAX {
                        pool.push(input.clone());
                    } else if rng.one_in(8) {
                        let slot = seeds.len() + rng.below(POOL_MAX - seeds.len());
                        pool[slot] = input.clone();
                    }
                }
            }
            Ok(Verdict::Rejected) => {
                // A few rejected inputs stay too: a mutation away from valid.
                if pool.len() < POOL_MAX && rng.one_in(64) {
                    pool.push(input.clone());
                }
            }
        }
    }
    report.elapsed = start.elapsed();
    report.pool = pool.len();
    Ok(report)
}

/// Runs `target` once on `input`; `Err` is the panic's message.
pub fn replay(target: &Target, input: &[u8]) -> Result<Verdict, String> {
    let mut check = (target.setup)();
    panic::catch_unwind(AssertUnwindSafe(|| check(input))).map_err(|p| panic_message(&p))
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Saves a failing input under `target/fuzz-failures/` (or the directory
/// `CORRAL_FUZZ_FAILURES` names).
fn save(target: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = std::env::var_os("CORRAL_FUZZ_FAILURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures")
        });
    std::fs::create_dir_all(&dir).ok()?;
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{target}-{hash:016x}.bin"));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// Bytes the mutator likes to write: edges of integers and of text.
const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, 0xfe, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', b'0',
    b'9', b'-', b'.', b'/', b' ', b'e',
];

/// Changes `data` once, in one of several ways.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    pool: &[Vec<u8>],
    dictionary: &[Vec<u8>],
    max_len: usize,
) {
    let len = data.len();
    match rng.below(12) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = if rng.one_in(2) {
                *rng.pick(INTERESTING)
            } else {
                rng.byte()
            };
        }
        2 if len > 0 => {
            let at = rng.below(len);
            let n = rng.length(len - at).max(1);
            data.drain(at..at + n.min(len - at));
        }
        3 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            data.splice(at..at, bytes);
        }
        4 if len > 0 => {
            // Repeat a piece somewhere: lists and nesting grow.
            let from = rng.below(len);
            let n = rng.length(len - from).max(1);
            let piece = data[from..from + n.min(len - from)].to_vec();
            let at = rng.below(len + 1);
            let times = if rng.one_in(8) { 1 + rng.below(16) } else { 1 };
            for _ in 0..times {
                data.splice(at..at, piece.iter().copied());
            }
        }
        5 | 6 if !dictionary.is_empty() => {
            let token = rng.pick(dictionary).clone();
            let at = rng.below(len + 1);
            if rng.one_in(2) || len == 0 {
                data.splice(at..at, token);
            } else {
                let end = (at + token.len()).min(len);
                data.splice(at..end, token);
            }
        }
        7 if !pool.is_empty() => {
            // Splice a piece of another input in.
            let other = rng.pick(pool);
            if !other.is_empty() {
                let from = rng.below(other.len());
                let n = rng.length(other.len() - from).max(1);
                let piece = &other[from..from + n.min(other.len() - from)];
                let at = rng.below(len + 1);
                let end = if rng.one_in(2) {
                    at
                } else {
                    (at + rng.length(len - at)).min(len)
                };
                data.splice(at..end, piece.iter().copied());
            }
        }
        8 if len > 0 => {
            data.truncate(rng.below(len));
        }
        9 if len > 0 => {
            // A varint-looking byte: lengths and tags of protobuf.
            let i = rng.below(len);
            data[i] = 0x80 | rng.byte();
        }
        10 if len > 1 => {
            let (a, b) = (rng.below(len), rng.below(len));
            data.swap(a, b);
        }
        _ => {
            let at = rng.below(len + 1);
            data.insert(at, *rng.pick(INTERESTING));
        }
    }
    data.truncate(max_len);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(setup: fn() -> Check) -> Target {
        Target {
            name: "test",
            about: "a target of the driver's own tests",
            seeds: || vec![b"12".to_vec()],
            generate: None,
            dictionary: Vec::new,
            setup,
            max_len: 64,
        }
    }

    const BUDGET: Budget = Budget {
        inputs: 2_000,
        time: Duration::from_secs(30),
    };

    #[test]
    fn a_decoder_that_reserves_what_its_input_claims_fails_the_run() {
        let t = target(|| {
            Box::new(|input| {
                // Believes a length from the input, as a careless decoder would.
                let claimed = input
                    .iter()
                    .fold(0usize, |n, &b| n.wrapping_mul(31) + usize::from(b));
                let reserved: Vec<u8> = Vec::with_capacity((claimed % (1 << 28)).max(1 << 22));
                std::hint::black_box(reserved);
                Verdict::Accepted
            })
        });
        let failure = run(&t, BUDGET, 1).unwrap_err();
        assert!(failure.message.starts_with("allocated"), "{failure}");
        assert_eq!(failure.input_number, 0, "the seed itself reserves 4 MiB");
    }

    #[test]
    fn a_panic_fails_the_run_with_its_input_and_replays() {
        let t = target(|| {
            Box::new(|input| {
                assert!(!input.contains(&b'\n'), "a newline");
                Verdict::Accepted
            })
        });
        let failure = run(&t, BUDGET, 7).unwrap_err();
        assert_eq!(failure.message, "a newline");
        assert!(failure.input.contains(&b'\n'));
        assert_eq!(replay(&t, &failure.input), Err("a newline".to_owned()));
        assert_eq!(replay(&t, b"12"), Ok(Verdict::Accepted));
        // The same seed finds the same input.
        assert_eq!(run(&t, BUDGET, 7).unwrap_err().input, failure.input);
    }

    #[test]
    fn a_run_within_its_bounds_reports_what_it_did() {
        let t = target(|| {
            Box::new(|input| {
                if input.len() % 2 == 0 {
                    Verdict::Accepted
                } else {
                    Verdict::Rejected
                }
            })
        });
        let report = run(&t, BUDGET, 3).unwrap();
        assert_eq!(report.inputs, BUDGET.inputs);
        assert!(report.accepted > 0 && report.accepted < report.inputs);
        assert!(report.pool > 1);
    }
}
