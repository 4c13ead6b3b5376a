//! Times `aggregate` on 100,000 random IPv4 and IPv6 entries, parsing included.
//!
//! Run with `cargo bench --bench aggregate`, which builds with the release profile. The list
//! comes from a fixed seed, so the entry counts are the same on every machine. The times are
//! wall-clock times and apply only to the machine that ran them.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ipgate::core::aggregate::aggregate;

const ENTRIES: usize = 100_000;
const RUNS: usize = 5;
const SEED: u64 = 0x1d5e_a5e7;

/// SplitMix64: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Half IPv4 in 10.0.0.0/8 with prefixes /24 to /32, half IPv6 in 2001:db8::/96 with
/// prefixes /104 to /128, and one entry in twenty a copy of an earlier one. The regions
/// are narrow enough that many entries overlap or merge.
fn random_entries(rng: &mut Rng, count: usize) -> Vec<String> {
    let mut entries: Vec<String> = Vec::with_capacity(count);
    for _ in 0..count {
        if !entries.is_empty() && rng.below(20) == 0 {
            let earlier = entries[rng.below(entries.len() as u64) as usize].clone();
            entries.push(earlier);
            continue;
        }

        let entry = if rng.below(2) == 0 {
            let address = Ipv4Addr::from(0x0A00_0000 | (rng.next() as u32 & 0x00FF_FFFF));
            let prefix = 24 + rng.below(9);
            // Clear the host bits so every entry is what a user would write.
            let network = u32::from(address) & (u32::MAX << (32 - prefix));
            format!("{}/{prefix}", Ipv4Addr::from(network))
        } else {
            let low_bits = u128::from(rng.next()) & 0xFFFF_FFFF;
            let prefix = 104 + rng.below(25);
            let address = (0x2001_0db8_u128 << 96) | low_bits;
            let network = address & (u128::MAX << (128 - prefix));
            format!("{}/{prefix}", Ipv6Addr::from(network))
        };
        entries.push(entry);
    }
    entries
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let entries = random_entries(&mut Rng(SEED), ENTRIES);

    let mut times = Vec::with_capacity(RUNS);
    let mut after = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        // The generator writes only valid CIDRs, so `aggregate` cannot fail here.
        let result = aggregate(black_box(&entries)).expect("generated entries are valid CIDRs");
        times.push(start.elapsed());
        after = black_box(result).after.len();
    }
    times.sort();

    println!(
        "aggregate: {ENTRIES} random entries (half IPv4, half IPv6, seed {SEED:#x}) merged into \
         {after} CIDRs, {} fewer",
        ENTRIES - after
    );
    println!(
        "time per call, parsing included, over {RUNS} runs: min {:.1} ms, median {:.1} ms \
         (wall clock on this machine)",
        milliseconds(times[0]),
        milliseconds(times[RUNS / 2])
    );
}
