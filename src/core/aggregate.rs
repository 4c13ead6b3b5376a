//! Aggregation of an allowlist: the fewest CIDRs that admit exactly the same addresses.
//!
//! Overlapping, nested, duplicate and adjacent networks merge, so `198.51.100.0/25` and
//! `198.51.100.128/25` become `198.51.100.0/24`. Host bits are cleared first, so `192.0.2.77/24`
//! becomes `192.0.2.0/24`, the network it covers. IPv4 and IPv6 never merge with each other.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use super::access::AddressSet;
use super::cidr::{CidrError, parse_entry};

/// The result of [`aggregate`], with enough detail to show which entries became which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregation {
    /// The number of input entries, duplicates included.
    pub before: usize,
    /// The aggregated list in canonical text: IPv4 first, each family in ascending order.
    pub after: Vec<String>,
    /// `before - after.len()`, never negative because each output covers at least one input.
    pub removed_count: usize,
    /// Each output that differs from its input: the input entries as given, in input order,
    /// and the output CIDR. An output made from one entry is listed only when its network
    /// differs from that entry's canonical text, as when host bits were cleared. Outputs are
    /// in the order of `after`.
    pub merged: Vec<(Vec<String>, String)>,
}

/// Merges `entries` into the fewest CIDRs that admit exactly the same addresses.
///
/// Runs in O(n log n) for n entries.
///
/// # Errors
///
/// Returns the [`CidrError`] of the first entry that [`parse_entry`] rejects.
pub fn aggregate(entries: &[String]) -> Result<Aggregation, CidrError> {
    let parsed = entries
        .iter()
        .map(|entry| parse_entry(entry))
        .collect::<Result<Vec<_>, _>>()?;
    let covered: Vec<IpNetwork> = parsed.iter().map(|entry| entry.covered_network()).collect();
    let blocks = AddressSet::from_networks(covered.iter().copied()).to_cidrs();

    // Aligned blocks either nest or are disjoint, and each output block is a largest aligned
    // block inside the union, so every input lies inside exactly one output block.
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); blocks.len()];
    for (index, network) in covered.iter().enumerate() {
        groups[containing_block(&blocks, network)].push(index);
    }

    let after: Vec<String> = blocks.iter().map(ToString::to_string).collect();
    let mut merged = Vec::new();
    for (result, group) in after.iter().zip(&groups) {
        let unchanged = match group.as_slice() {
            [only] => parsed[*only].canonical() == *result,
            _ => false,
        };
        if !unchanged {
            let originals = group.iter().map(|&index| entries[index].clone()).collect();
            merged.push((originals, result.clone()));
        }
    }

    Ok(Aggregation {
        before: entries.len(),
        removed_count: entries.len() - after.len(),
        after,
        merged,
    })
}

/// Sort key of a network: IPv4 before IPv6, then by first address, as `to_cidrs` orders them.
fn start_key(network: &IpNetwork) -> (bool, u128) {
    match network.network() {
        IpAddr::V4(address) => (false, u128::from(u32::from(address))),
        IpAddr::V6(address) => (true, u128::from(address)),
    }
}

/// Returns the index of the block in `blocks` (sorted, disjoint) that contains `network`.
fn containing_block(blocks: &[IpNetwork], network: &IpNetwork) -> usize {
    let key = start_key(network);
    let after_start = blocks.partition_point(|block| start_key(block) <= key);
    // The containing block starts at or before `network`, so `after_start` is at least 1.
    after_start.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|entry| (*entry).to_string()).collect()
    }

    fn merged(pairs: &[(&[&str], &str)]) -> Vec<(Vec<String>, String)> {
        pairs
            .iter()
            .map(|(originals, result)| (strings(originals), (*result).to_string()))
            .collect()
    }

    #[test]
    fn aggregate_table() {
        struct Case {
            name: &'static str,
            input: &'static [&'static str],
            after: &'static [&'static str],
            merged: &'static [(&'static [&'static str], &'static str)],
        }
        let cases = [
            Case {
                name: "empty list",
                input: &[],
                after: &[],
                merged: &[],
            },
            Case {
                name: "adjacent halves merge",
                input: &["198.51.100.0/25", "198.51.100.128/25"],
                after: &["198.51.100.0/24"],
                merged: &[(&["198.51.100.0/25", "198.51.100.128/25"], "198.51.100.0/24")],
            },
            Case {
                name: "adjacent but unaligned stay apart",
                input: &["198.51.100.128/25", "198.51.101.0/25"],
                after: &["198.51.100.128/25", "198.51.101.0/25"],
                merged: &[],
            },
            Case {
                name: "nested network is absorbed",
                input: &["10.0.0.0/8", "10.1.2.0/24"],
                after: &["10.0.0.0/8"],
                merged: &[(&["10.0.0.0/8", "10.1.2.0/24"], "10.0.0.0/8")],
            },
            Case {
                name: "duplicates in different spellings",
                input: &["2001:DB8::1", "2001:db8::1/128", "192.0.2.1"],
                after: &["192.0.2.1/32", "2001:db8::1/128"],
                merged: &[(&["2001:DB8::1", "2001:db8::1/128"], "2001:db8::1/128")],
            },
            Case {
                name: "host bits are cleared",
                input: &["192.0.2.77/24"],
                after: &["192.0.2.0/24"],
                merged: &[(&["192.0.2.77/24"], "192.0.2.0/24")],
            },
            Case {
                name: "three blocks need two outputs",
                input: &["10.0.2.0/24", "10.0.0.0/24", "10.0.1.0/24"],
                after: &["10.0.0.0/23", "10.0.2.0/24"],
                merged: &[(&["10.0.0.0/24", "10.0.1.0/24"], "10.0.0.0/23")],
            },
            Case {
                name: "families never merge",
                input: &["::/0", "0.0.0.0/1", "128.0.0.0/1"],
                after: &["0.0.0.0/0", "::/0"],
                merged: &[(&["0.0.0.0/1", "128.0.0.0/1"], "0.0.0.0/0")],
            },
            Case {
                name: "top of the address space",
                input: &["255.255.255.255", "255.255.255.254/32"],
                after: &["255.255.255.254/31"],
                merged: &[(
                    &["255.255.255.255", "255.255.255.254/32"],
                    "255.255.255.254/31",
                )],
            },
        ];

        for case in cases {
            let result = aggregate(&strings(case.input)).unwrap();
            assert_eq!(result.before, case.input.len(), "{}: before", case.name);
            assert_eq!(result.after, strings(case.after), "{}: after", case.name);
            assert_eq!(
                result.removed_count,
                case.input.len() - case.after.len(),
                "{}: removed_count",
                case.name
            );
            assert_eq!(result.merged, merged(case.merged), "{}: merged", case.name);
        }
    }

    #[test]
    fn aggregate_invalid_entry() {
        let error = aggregate(&strings(&["192.0.2.0/24", "192.0.2.010"])).unwrap_err();
        assert!(
            matches!(error, CidrError::LeadingZeroOctet { .. }),
            "unexpected error: {error:?}"
        );
    }
}
