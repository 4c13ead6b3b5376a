//! Properties of `aggregate` on random allowlists of IPv4 and IPv6 CIDRs.
//!
//! Lists come from a small seeded generator, so every run checks the same cases. The lists mix
//! duplicates, nested networks, adjacent siblings that merge, host bits, bare addresses and
//! upper-case IPv6. Membership is checked against the inputs themselves, not through
//! `AddressSet`, which `aggregate` uses.

use std::net::IpAddr;

use ipgate::core::aggregate::{Aggregation, aggregate};

/// SplitMix64: a tiny deterministic generator, good enough to spread test cases.
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

    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A network as a range of addresses, computed by the test itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    v6: bool,
    /// The network address, host bits cleared.
    first: u128,
    prefix: u32,
}

impl Net {
    fn width(v6: bool) -> u32 {
        if v6 { 128 } else { 32 }
    }

    fn new(v6: bool, address: u128, prefix: u32) -> Net {
        Net {
            v6,
            first: address & mask(v6, prefix),
            prefix,
        }
    }

    fn last(self) -> u128 {
        self.first | host_mask(self.v6, self.prefix)
    }

    fn contains(self, v6: bool, address: u128) -> bool {
        self.v6 == v6 && self.first <= address && address <= self.last()
    }

    fn covers(self, other: Net) -> bool {
        self.contains(other.v6, other.first) && self.contains(other.v6, other.last())
    }
}

fn host_mask(v6: bool, prefix: u32) -> u128 {
    let host_bits = Net::width(v6) - prefix;
    if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    }
}

fn mask(v6: bool, prefix: u32) -> u128 {
    let family_max = if v6 { u128::MAX } else { u128::from(u32::MAX) };
    family_max & !host_mask(v6, prefix)
}

fn address_text(v6: bool, address: u128) -> String {
    if v6 {
        IpAddr::from(address.to_be_bytes()).to_string()
    } else {
        // IPv4 addresses in this test never exceed 32 bits.
        let bits = u32::try_from(address).expect("an IPv4 address fits 32 bits");
        IpAddr::from(bits.to_be_bytes()).to_string()
    }
}

/// Parses `ADDRESS/PREFIX` or a bare address into its covered network, with the standard
/// library only.
fn parse_net(text: &str) -> Net {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().unwrap();
    let (v6, bits) = match address {
        IpAddr::V4(address) => (false, u128::from(u32::from(address))),
        IpAddr::V6(address) => (true, u128::from(address)),
    };
    let prefix = prefix.map_or(Net::width(v6), |prefix| prefix.parse().unwrap());
    Net::new(v6, bits, prefix)
}

/// A region of the address space that entries are drawn from, so that they overlap often.
struct Region {
    v6: bool,
    base: u128,
    prefix: u32,
}

const REGIONS: &[Region] = &[
    // 198.51.100.0/22
    Region {
        v6: false,
        base: 0xC633_6400,
        prefix: 22,
    },
    // 255.255.255.0/24, at the top of the IPv4 space.
    Region {
        v6: false,
        base: 0xFFFF_FF00,
        prefix: 24,
    },
    // 0.0.0.0/26, at the bottom.
    Region {
        v6: false,
        base: 0,
        prefix: 26,
    },
    // 2001:db8::/118
    Region {
        v6: true,
        base: 0x2001_0db8 << 96,
        prefix: 118,
    },
    // ffff:...:ff00/120, at the top of the IPv6 space.
    Region {
        v6: true,
        base: u128::MAX - 0xFF,
        prefix: 120,
    },
];

fn fresh_net(rng: &mut Rng) -> Net {
    // Now and then a wide network, covering whole regions or up to a whole family.
    if rng.chance(3) {
        let v6 = rng.chance(50);
        let prefix = [0, 1, 8, 16][rng.below(4) as usize].min(Net::width(v6));
        let address = if v6 {
            rng.u128()
        } else {
            u128::from(rng.next() as u32)
        };
        return Net::new(v6, address, prefix);
    }

    let region = &REGIONS[rng.below(REGIONS.len() as u64) as usize];
    let width = Net::width(region.v6);
    let offset = rng.u128() & host_mask(region.v6, region.prefix);
    let prefix = region.prefix + rng.below(u64::from(width - region.prefix) + 1) as u32;
    Net::new(region.v6, region.base | offset, prefix)
}

/// Derives a network from an earlier one: the same, a subnet, the sibling or the parent.
fn related_net(rng: &mut Rng, earlier: Net) -> Net {
    let width = Net::width(earlier.v6);
    match rng.below(4) {
        0 => earlier,
        1 if earlier.prefix < width => {
            let prefix = earlier.prefix + 1 + rng.below(u64::from(width - earlier.prefix)) as u32;
            let offset = rng.u128() & host_mask(earlier.v6, earlier.prefix);
            Net::new(earlier.v6, earlier.first | offset, prefix)
        }
        2 if earlier.prefix > 0 => {
            let sibling_bit = 1u128 << (width - earlier.prefix);
            Net::new(earlier.v6, earlier.first ^ sibling_bit, earlier.prefix)
        }
        _ if earlier.prefix > 0 => Net::new(earlier.v6, earlier.first, earlier.prefix - 1),
        _ => earlier,
    }
}

/// Writes a network in one of the spellings users and policies use.
fn spell(rng: &mut Rng, net: Net) -> String {
    let width = Net::width(net.v6);
    let mut address = net.first;
    if net.prefix < width && rng.chance(15) {
        address |= rng.u128() & host_mask(net.v6, net.prefix);
    }

    let mut text = address_text(net.v6, address);
    if net.v6 && rng.chance(30) {
        text = text.to_uppercase();
    }
    if net.prefix < width || rng.chance(50) {
        text = format!("{text}/{}", net.prefix);
    }
    text
}

fn random_list(rng: &mut Rng, max_len: u64) -> Vec<String> {
    let len = rng.below(max_len + 1) as usize;
    let mut nets: Vec<Net> = Vec::with_capacity(len);
    let mut texts = Vec::with_capacity(len);
    for _ in 0..len {
        let net = if !nets.is_empty() && rng.chance(40) {
            let earlier = nets[rng.below(nets.len() as u64) as usize];
            related_net(rng, earlier)
        } else {
            fresh_net(rng)
        };
        texts.push(spell(rng, net));
        nets.push(net);
    }
    texts
}

/// Addresses where the two lists are most likely to differ: each range's ends and their
/// neighbors, plus random addresses from the regions.
fn probe_addresses(rng: &mut Rng, nets: &[Net]) -> Vec<(bool, u128)> {
    let mut probes = Vec::new();
    for net in nets {
        let family_max = host_mask(net.v6, 0);
        for address in [net.first, net.last()] {
            probes.push((net.v6, address));
            if let Some(below) = address.checked_sub(1) {
                probes.push((net.v6, below));
            }
            if address < family_max {
                probes.push((net.v6, address + 1));
            }
        }
    }
    for region in REGIONS {
        for _ in 0..16 {
            let offset = rng.u128() & host_mask(region.v6, region.prefix);
            probes.push((region.v6, region.base | offset));
        }
    }
    for _ in 0..16 {
        probes.push((false, u128::from(rng.next() as u32)));
        probes.push((true, rng.u128()));
    }
    probes
}

fn admits(nets: &[Net], v6: bool, address: u128) -> bool {
    nets.iter().any(|net| net.contains(v6, address))
}

/// Checks every property of one aggregation, naming the input list on failure.
fn check_aggregation(rng: &mut Rng, input: &[String], result: &Aggregation) {
    let inputs: Vec<Net> = input.iter().map(|text| parse_net(text)).collect();
    let outputs: Vec<Net> = result.after.iter().map(|text| parse_net(text)).collect();

    assert_eq!(result.before, input.len(), "before, for {input:?}");
    assert!(
        result.after.len() <= input.len(),
        "more entries after than before: {input:?} -> {:?}",
        result.after
    );
    assert_eq!(
        result.removed_count,
        input.len() - result.after.len(),
        "removed_count, for {input:?}"
    );

    // Canonical text without host bits: printing the parsed network gives the same text.
    for (text, net) in result.after.iter().zip(&outputs) {
        let expected = format!("{}/{}", address_text(net.v6, net.first), net.prefix);
        assert_eq!(*text, expected, "output not canonical, for {input:?}");
    }

    for (v6, address) in probe_addresses(
        rng,
        &inputs.iter().chain(&outputs).copied().collect::<Vec<_>>(),
    ) {
        assert_eq!(
            admits(&outputs, v6, address),
            admits(&inputs, v6, address),
            "address {} admitted differently: {input:?} -> {:?}",
            address_text(v6, address),
            result.after
        );
    }

    check_minimal(input, &outputs);
    check_merged(input, &inputs, &outputs, result);
}

/// Outputs are sorted (IPv4 first), disjoint, and no two are halves of one larger block, which
/// makes the list the fewest CIDRs for its addresses.
fn check_minimal(input: &[String], outputs: &[Net]) {
    for pair in outputs.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let ordered = (a.v6, a.last()) < (b.v6, b.first);
        assert!(
            ordered,
            "outputs overlap or are out of order: {a:?} {b:?}, for {input:?}"
        );
    }
    for a in outputs {
        let siblings = outputs.iter().any(|b| {
            a.prefix > 0
                && b.v6 == a.v6
                && b.prefix == a.prefix
                && b.first == a.first ^ (1u128 << (Net::width(a.v6) - a.prefix))
        });
        assert!(
            !siblings,
            "output {a:?} has its sibling in the list, for {input:?}"
        );
    }
}

/// Checks that each merge group names inputs that lie in its result, that no input is named
/// twice, and that every input left out is exactly one of the outputs.
fn check_merged(input: &[String], inputs: &[Net], outputs: &[Net], result: &Aggregation) {
    let mut listed = vec![false; input.len()];
    for (originals, merged_into) in &result.merged {
        assert!(!originals.is_empty(), "empty merge group, for {input:?}");
        let merged_net = parse_net(merged_into);
        assert!(
            outputs.contains(&merged_net),
            "merge result not in after, for {input:?}"
        );

        for original in originals {
            assert!(
                merged_net.covers(parse_net(original)),
                "{original} merged into {merged_into}, which does not cover it"
            );
            // Duplicate texts are distinct entries, so take the first one not yet listed.
            let index = (0..input.len())
                .find(|&index| input[index] == *original && !listed[index])
                .unwrap_or_else(|| panic!("{original} listed more often than given"));
            listed[index] = true;
        }
    }

    for (index, net) in inputs.iter().enumerate() {
        if !listed[index] {
            assert!(
                outputs.contains(net),
                "{} is in no merge group but changed, for {input:?}",
                input[index]
            );
        }
    }
}

#[test]
fn adjacent_halves_merge() {
    let input = vec![
        "198.51.100.0/25".to_string(),
        "198.51.100.128/25".to_string(),
    ];
    let result = aggregate(&input).unwrap();
    assert_eq!(result.after, ["198.51.100.0/24"]);
    assert_eq!(result.removed_count, 1);
    assert_eq!(result.merged, [(input, "198.51.100.0/24".to_string())]);
}

#[test]
fn random_lists_keep_addresses() {
    let mut rng = Rng(0x1d5e_a5e7);
    for _ in 0..2_000 {
        let input = random_list(&mut rng, 40);
        let result = aggregate(&input).unwrap();
        check_aggregation(&mut rng, &input, &result);
    }
}

#[test]
fn long_random_lists_keep_addresses() {
    let mut rng = Rng(0xa99_4e6a7e);
    for _ in 0..20 {
        let input = random_list(&mut rng, 1_500);
        let result = aggregate(&input).unwrap();
        check_aggregation(&mut rng, &input, &result);
    }
}

#[test]
fn aggregation_is_idempotent() {
    let mut rng = Rng(0x1de_9073);
    for _ in 0..1_000 {
        let input = random_list(&mut rng, 40);
        let once = aggregate(&input).unwrap();
        let twice = aggregate(&once.after).unwrap();
        assert_eq!(
            twice.after, once.after,
            "second pass changed, for {input:?}"
        );
        assert_eq!(twice.removed_count, 0, "second pass removed, for {input:?}");
        assert!(twice.merged.is_empty(), "second pass merged, for {input:?}");
    }
}

#[test]
fn generator_produces_merges() {
    // Guards the generator itself: the properties above mean little if nothing ever merges.
    let mut rng = Rng(0x1d5e_a5e7);
    let mut shrunk = 0;
    let mut multi_groups = 0;
    let mut v6_lists = 0;
    for _ in 0..500 {
        let input = random_list(&mut rng, 40);
        let result = aggregate(&input).unwrap();
        shrunk += usize::from(result.removed_count > 0);
        multi_groups += result
            .merged
            .iter()
            .filter(|(originals, _)| originals.len() > 1)
            .count();
        v6_lists += usize::from(input.iter().any(|entry| entry.contains(':')));
    }
    assert!(shrunk > 250, "only {shrunk} of 500 lists shrank");
    assert!(multi_groups > 500, "only {multi_groups} merge groups");
    assert!(v6_lists > 250, "only {v6_lists} lists had IPv6");
}
