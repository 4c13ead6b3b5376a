//! Effective access: which callers a resource policy lets call one stage.
//!
//! Statements are evaluated as IAM evaluates a resource policy. A statement applies to a call
//! when its action, principal, resource and condition all match. An explicit `Deny` that
//! applies beats every `Allow`. Otherwise an `Allow` that applies lets the call through, and
//! with neither the call is implicitly denied.
//!
//! ipgate evaluates `Principal` `"*"` (or `{"AWS": "*"}`), `Action`, `Resource`, and the
//! `IpAddress` and `NotIpAddress` operators on `aws:SourceIp` and `aws:VpcSourceIp`. Any other
//! part makes the statement unevaluable, and the result names it instead of guessing. Calls
//! through a VPC endpoint carry `aws:VpcSourceIp` and no `aws:SourceIp`, while calls from the
//! internet carry only `aws:SourceIp`.
//!
//! Messages number statements from 1, in document order. Index fields count from 0, as in
//! [`super::policy`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{BitOr, Sub};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use serde_json::{Map, Value};

use super::resource::{ApiContext, Coverage, glob_matches, stage_coverage};

const INVOKE_ACTION: &str = "execute-api:invoke";
const SOURCE_IP_KEY: &str = "aws:SourceIp";
const VPC_SOURCE_IP_KEY: &str = "aws:VpcSourceIp";
/// Networks named in one statement description before the rest are counted.
const DESCRIPTION_MAX_NETWORKS: usize = 3;
/// Networks named in a summary or warning before the rest are counted.
const SUMMARY_MAX_NETWORKS: usize = 6;

// ---------------------------------------------------------------------------------------------
// Address sets
// ---------------------------------------------------------------------------------------------

/// A set of IPv4 and IPv6 addresses, stored per family as sorted, disjoint, non-adjacent
/// inclusive ranges. Set operations run in linear time after sorting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AddressSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// A condition value or allowlist entry that is not an IP address or CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' {problem}")]
pub struct InvalidCidr {
    pub value: String,
    /// The problem, as a predicate of the value: "is not an IP address or CIDR".
    pub problem: String,
}

impl AddressSet {
    /// Returns the empty set.
    pub fn new() -> AddressSet {
        AddressSet::default()
    }

    /// Returns the set of every IPv4 and every IPv6 address.
    pub fn everything() -> AddressSet {
        AddressSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
        }
    }

    pub fn everything_v4() -> AddressSet {
        AddressSet {
            v4: vec![(0, u32::MAX)],
            v6: Vec::new(),
        }
    }

    pub fn everything_v6() -> AddressSet {
        AddressSet {
            v4: Vec::new(),
            v6: vec![(0, u128::MAX)],
        }
    }

    /// Builds the set covered by the networks. Host bits are ignored, so `192.0.2.77/24` adds
    /// `192.0.2.0/24`.
    pub fn from_networks<I: IntoIterator<Item = IpNetwork>>(networks: I) -> AddressSet {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for network in networks {
            match network {
                IpNetwork::V4(network) => v4.push(network_range(
                    u32::from(network.ip()),
                    u32::from(network.prefix()),
                )),
                IpNetwork::V6(network) => v6.push(network_range(
                    u128::from(network.ip()),
                    u32::from(network.prefix()),
                )),
            }
        }
        AddressSet {
            v4: normalize(v4),
            v6: normalize(v6),
        }
    }

    /// Parses CIDRs as IAM reads `aws:SourceIp` values: a bare address means one address, and
    /// host bits are ignored.
    pub fn from_cidrs<I, S>(cidrs: I) -> Result<AddressSet, InvalidCidr>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let networks = cidrs
            .into_iter()
            .map(|text| parse_cidr(text.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddressSet::from_networks(networks))
    }

    pub fn union(&self, other: &AddressSet) -> AddressSet {
        AddressSet {
            v4: normalize([self.v4.as_slice(), other.v4.as_slice()].concat()),
            v6: normalize([self.v6.as_slice(), other.v6.as_slice()].concat()),
        }
    }

    pub fn intersect(&self, other: &AddressSet) -> AddressSet {
        AddressSet {
            v4: intersect_ranges(&self.v4, &other.v4),
            v6: intersect_ranges(&self.v6, &other.v6),
        }
    }

    /// Returns the addresses of `self` that are not in `other`.
    pub fn difference(&self, other: &AddressSet) -> AddressSet {
        self.intersect(&other.complement())
    }

    /// Returns every address, of both families, that is not in the set.
    pub fn complement(&self) -> AddressSet {
        AddressSet {
            v4: complement_ranges(&self.v4),
            v6: complement_ranges(&self.v6),
        }
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(address) => ranges_contain(&self.v4, u32::from(address)),
            IpAddr::V6(address) => ranges_contain(&self.v6, u128::from(address)),
        }
    }

    pub fn is_subset(&self, other: &AddressSet) -> bool {
        self.difference(other).is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    pub fn is_empty_v4(&self) -> bool {
        self.v4.is_empty()
    }

    pub fn is_empty_v6(&self) -> bool {
        self.v6.is_empty()
    }

    pub fn is_everything(&self) -> bool {
        self.is_everything_v4() && self.is_everything_v6()
    }

    pub fn is_everything_v4(&self) -> bool {
        self.v4 == [(0, u32::MAX)]
    }

    pub fn is_everything_v6(&self) -> bool {
        self.v6 == [(0, u128::MAX)]
    }

    /// Returns the IPv4 part of the set.
    pub fn v4_only(&self) -> AddressSet {
        AddressSet {
            v4: self.v4.clone(),
            v6: Vec::new(),
        }
    }

    /// Returns the IPv6 part of the set.
    pub fn v6_only(&self) -> AddressSet {
        AddressSet {
            v4: Vec::new(),
            v6: self.v6.clone(),
        }
    }

    /// Returns the IPv4 ranges, sorted, as inclusive `(first, last)` pairs.
    pub fn ranges_v4(&self) -> &[(u32, u32)] {
        &self.v4
    }

    /// Returns the IPv6 ranges, sorted, as inclusive `(first, last)` pairs.
    pub fn ranges_v6(&self) -> &[(u128, u128)] {
        &self.v6
    }

    /// Returns the fewest CIDR blocks that cover exactly the set: IPv4 first, each family in
    /// ascending order.
    pub fn to_cidrs(&self) -> Vec<IpNetwork> {
        let v4 = cidr_blocks(&self.v4).into_iter().map(|(start, prefix)| {
            // `cidr_blocks` returns prefixes of at most 32 bits for `u32` ranges.
            let network = Ipv4Network::new(Ipv4Addr::from(start), prefix)
                .expect("an IPv4 block prefix is at most 32");
            IpNetwork::V4(network)
        });
        let v6 = cidr_blocks(&self.v6).into_iter().map(|(start, prefix)| {
            // `cidr_blocks` returns prefixes of at most 128 bits for `u128` ranges.
            let network = Ipv6Network::new(Ipv6Addr::from(start), prefix)
                .expect("an IPv6 block prefix is at most 128");
            IpNetwork::V6(network)
        });
        v4.chain(v6).collect()
    }

    pub fn address_count_v4(&self) -> u64 {
        self.v4
            .iter()
            .map(|&(start, end)| u64::from(end - start) + 1)
            .sum()
    }

    /// Counts the IPv6 addresses, saturating at `u128::MAX` (the full space has one more).
    pub fn address_count_v6(&self) -> u128 {
        self.v6.iter().fold(0u128, |total, &(start, end)| {
            total.saturating_add((end - start).saturating_add(1))
        })
    }
}

/// An unsigned integer that stores the addresses of one address family.
trait AddressBits: Copy + Ord + Sub<Output = Self> + BitOr<Output = Self> {
    const ZERO: Self;
    const MAX: Self;
    const BITS: u32;
    fn successor(self) -> Option<Self>;
    fn predecessor(self) -> Option<Self>;
    fn trailing_zeros(self) -> u32;
    /// Returns the value with the low `bits` bits set.
    fn low_mask(bits: u32) -> Self;
    /// Returns the size in bits of the largest block that fits in `span + 1` addresses.
    fn largest_block_bits(span: Self) -> u32;
}

macro_rules! address_bits {
    ($type:ty) => {
        impl AddressBits for $type {
            const ZERO: Self = 0;
            const MAX: Self = <$type>::MAX;
            const BITS: u32 = <$type>::BITS;

            fn successor(self) -> Option<Self> {
                self.checked_add(1)
            }

            fn predecessor(self) -> Option<Self> {
                self.checked_sub(1)
            }

            fn trailing_zeros(self) -> u32 {
                <$type>::trailing_zeros(self)
            }

            fn low_mask(bits: u32) -> Self {
                if bits >= Self::BITS {
                    Self::MAX
                } else {
                    (1 << bits) - 1
                }
            }

            fn largest_block_bits(span: Self) -> u32 {
                match span.checked_add(1) {
                    Some(size) => Self::BITS - 1 - size.leading_zeros(),
                    None => Self::BITS,
                }
            }
        }
    };
}

address_bits!(u32);
address_bits!(u128);

fn network_range<T: AddressBits>(address: T, prefix: u32) -> (T, T) {
    let host_mask = T::low_mask(T::BITS - prefix);
    let last = address | host_mask;
    (last - host_mask, last)
}

/// Sorts ranges and merges those that overlap or touch.
fn normalize<T: AddressBits>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        if let Some(last) = merged.last_mut() {
            // A last range ending at the maximum absorbs everything after it.
            let touches = last.1.successor().is_none_or(|next| start <= next);
            if touches {
                last.1 = last.1.max(end);
                continue;
            }
        }
        merged.push((start, end));
    }
    merged
}

fn intersect_ranges<T: AddressBits>(left: &[(T, T)], right: &[(T, T)]) -> Vec<(T, T)> {
    let mut result = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        let start = left[i].0.max(right[j].0);
        let end = left[i].1.min(right[j].1);
        if start <= end {
            result.push((start, end));
        }
        if left[i].1 < right[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    result
}

fn complement_ranges<T: AddressBits>(ranges: &[(T, T)]) -> Vec<(T, T)> {
    let mut result = Vec::new();
    let mut next = Some(T::ZERO);
    for &(start, end) in ranges {
        if let (Some(gap_start), Some(gap_end)) = (next, start.predecessor())
            && gap_start <= gap_end
        {
            result.push((gap_start, gap_end));
        }
        next = end.successor();
    }
    if let Some(gap_start) = next {
        result.push((gap_start, T::MAX));
    }
    result
}

fn ranges_contain<T: AddressBits>(ranges: &[(T, T)], address: T) -> bool {
    let index = ranges.partition_point(|&(_, end)| end < address);
    ranges
        .get(index)
        .is_some_and(|&(start, _)| start <= address)
}

/// Splits each range into the largest aligned blocks, returned as (first address, prefix).
fn cidr_blocks<T: AddressBits>(ranges: &[(T, T)]) -> Vec<(T, u8)> {
    let mut blocks = Vec::new();
    for &(first, end) in ranges {
        let mut start = first;
        loop {
            let bits = start
                .trailing_zeros()
                .min(T::largest_block_bits(end - start));
            // `bits` is at most `T::BITS`, which is at most 128.
            let prefix = u8::try_from(T::BITS - bits).unwrap_or(u8::MAX);
            blocks.push((start, prefix));

            let last = start | T::low_mask(bits);
            match last.successor() {
                Some(next) if last < end => start = next,
                _ => break,
            }
        }
    }
    blocks
}

/// Parses one `aws:SourceIp` value: an address or `ADDRESS/PREFIX`, host bits allowed.
///
/// The address part must be what the standard library accepts, and the prefix plain digits.
/// IPv4-mapped IPv6 values are rejected, because how IAM matches them against IPv4 callers
/// is not known to ipgate.
fn parse_cidr(text: &str) -> Result<IpNetwork, InvalidCidr> {
    let invalid = |problem: &str| InvalidCidr {
        value: text.to_string(),
        problem: problem.to_string(),
    };
    let (address_text, prefix_text) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };

    let address: IpAddr = address_text
        .parse()
        .map_err(|_| invalid("is not an IP address or CIDR"))?;
    if let IpAddr::V6(v6) = address
        && v6.to_ipv4_mapped().is_some()
    {
        return Err(invalid(
            "is an IPv4-mapped IPv6 address, which ipgate cannot match",
        ));
    }

    let width: u8 = if address.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => width,
        Some(digits) => {
            let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u8>() {
                Ok(prefix) if all_digits && prefix <= width => prefix,
                _ => return Err(invalid("has an invalid prefix length")),
            }
        }
    };
    IpNetwork::new(address, prefix).map_err(|_| invalid("has an invalid prefix length"))
}

// ---------------------------------------------------------------------------------------------
// Reading statements
// ---------------------------------------------------------------------------------------------

/// A statement's `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Allow => f.write_str("Allow"),
            Effect::Deny => f.write_str("Deny"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressKey {
    SourceIp,
    VpcSourceIp,
}

/// One `IpAddress` or `NotIpAddress` test on one address key.
#[derive(Debug, Clone)]
struct Clause {
    negated: bool,
    key: AddressKey,
    /// The values with host bits cleared, in document order.
    networks: Vec<IpNetwork>,
    set: AddressSet,
}

impl Clause {
    /// Returns the callers for which the clause holds. An absent key fails `IpAddress` and
    /// passes `NotIpAddress`, as IAM's negated operators match when the key is missing.
    fn holds_for(&self, via_vpc_endpoint: bool) -> AddressSet {
        let key_present = match self.key {
            AddressKey::SourceIp => !via_vpc_endpoint,
            AddressKey::VpcSourceIp => via_vpc_endpoint,
        };
        match (key_present, self.negated) {
            (true, false) => self.set.clone(),
            (true, true) => self.set.complement(),
            (false, false) => AddressSet::new(),
            (false, true) => AddressSet::everything(),
        }
    }

    fn describe(&self) -> String {
        let subject = match self.key {
            AddressKey::SourceIp => "source address",
            AddressKey::VpcSourceIp => "VPC source address",
        };
        let relation = if self.negated { "not in" } else { "in" };
        let networks = networks_phrase(&self.networks, DESCRIPTION_MAX_NETWORKS);
        format!("{subject} {relation} {networks}")
    }
}

/// A statement that applies to the stage for at least some callers, or might.
#[derive(Debug, Clone)]
struct StatementAnalysis {
    index: usize,
    effect: Option<Effect>,
    coverage: Coverage,
    clauses: Vec<Clause>,
    /// Internet callers the readable clauses admit. It is an upper bound when `unknown` is not
    /// empty.
    internet: AddressSet,
    /// The same for callers through a VPC endpoint.
    vpc: AddressSet,
    /// Reasons the statement cannot be evaluated, as predicates of "statement N". Empty when it
    /// can be evaluated.
    unknown: Vec<String>,
}

impl StatementAnalysis {
    fn is_evaluable(&self) -> bool {
        self.unknown.is_empty()
    }

    fn reason(&self) -> String {
        and_list(&self.unknown)
    }

    fn may_match(&self, address: IpAddr, via_vpc_endpoint: bool) -> bool {
        if via_vpc_endpoint {
            self.vpc.contains(address)
        } else {
            self.internet.contains(address)
        }
    }

    fn lists_source_addresses(&self) -> bool {
        self.clauses
            .iter()
            .any(|clause| clause.key == AddressKey::SourceIp && !clause.negated)
    }

    /// Plain words: "Deny unless source address in 203.0.113.0/24".
    fn describe(&self) -> String {
        let effect = self
            .effect
            .map_or("Allow or Deny".to_string(), |e| e.to_string());
        let condition = match self.clauses.as_slice() {
            [] => "for everyone".to_string(),
            [clause] if clause.negated => {
                let positive = Clause {
                    negated: false,
                    ..clause.clone()
                };
                format!("unless {}", positive.describe())
            }
            clauses => {
                let parts: Vec<String> = clauses.iter().map(Clause::describe).collect();
                format!("if {}", parts.join(" and "))
            }
        };
        let scope = match self.coverage {
            Coverage::Partial => " on some methods or paths",
            _ => "",
        };
        format!("{effect} {condition}{scope}")
    }
}

/// Reads the statements of a document, or returns why its outline is invalid.
fn document_statements(doc: &Value) -> Result<Vec<&Value>, String> {
    let Value::Object(fields) = doc else {
        return Err(format!(
            "a policy must be a JSON object, found {}",
            describe_json(doc)
        ));
    };
    match fields.get("Statement") {
        None => Err("the policy has no \"Statement\" element".to_string()),
        Some(statement @ Value::Object(_)) => Ok(vec![statement]),
        Some(Value::Array(statements)) => Ok(statements.iter().collect()),
        Some(other) => Err(format!(
            "\"Statement\" must be an object or a list of objects, found {}",
            describe_json(other)
        )),
    }
}

/// Analyzes every statement that applies, or might apply, to invoking `stage`.
fn analyze_document(
    doc: &Value,
    stage: &str,
    api: &ApiContext,
) -> Result<Vec<StatementAnalysis>, String> {
    let statements = document_statements(doc)?;
    Ok(statements
        .into_iter()
        .enumerate()
        .filter_map(|(index, statement)| analyze_statement(index, statement, stage, api))
        .collect())
}

/// Returns `None` when the statement surely does not apply to invoking `stage`.
fn analyze_statement(
    index: usize,
    statement: &Value,
    stage: &str,
    api: &ApiContext,
) -> Option<StatementAnalysis> {
    let Value::Object(fields) = statement else {
        return Some(StatementAnalysis {
            index,
            effect: None,
            coverage: Coverage::Whole,
            clauses: Vec::new(),
            internet: AddressSet::everything(),
            vpc: AddressSet::everything(),
            unknown: vec![format!("is {}, not an object", describe_json(statement))],
        });
    };
    let mut unknown = Vec::new();

    match read_action(fields) {
        Applies::No => return None,
        Applies::Yes => {}
        Applies::Unknown(reason) => unknown.push(reason),
    }
    let coverage = match read_coverage(fields, stage, api) {
        Ok(Coverage::None) => return None,
        Ok(coverage) => coverage,
        Err(reason) => {
            unknown.push(reason);
            Coverage::Whole
        }
    };

    let effect = match fields.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Some(Effect::Allow),
        Some("Deny") => Some(Effect::Deny),
        _ => {
            unknown.insert(0, "has no Effect of \"Allow\" or \"Deny\"".to_string());
            None
        }
    };
    if let Some(reason) = read_principal(fields) {
        unknown.push(reason);
    }
    let condition = read_condition(fields.get("Condition"));
    unknown.extend(condition.problems);

    let mut internet = AddressSet::everything();
    let mut vpc = AddressSet::everything();
    for clause in &condition.clauses {
        internet = internet.intersect(&clause.holds_for(false));
        vpc = vpc.intersect(&clause.holds_for(true));
    }

    Some(StatementAnalysis {
        index,
        effect,
        coverage,
        clauses: condition.clauses,
        internet,
        vpc,
        unknown,
    })
}

enum Applies {
    Yes,
    No,
    Unknown(String),
}

/// Decides whether `Action` or `NotAction` covers `execute-api:Invoke`, as IAM does: action
/// names ignore letter case and may hold `*` and `?`.
fn read_action(fields: &Map<String, Value>) -> Applies {
    match (fields.get("Action"), fields.get("NotAction")) {
        (Some(action), None) => match names_invoke(action) {
            Some(true) => Applies::Yes,
            Some(false) => Applies::No,
            None => Applies::Unknown("has an invalid Action".to_string()),
        },
        (None, Some(not_action)) => match names_invoke(not_action) {
            Some(true) => Applies::No,
            // NOTE: a NotAction that leaves out Invoke applies to Invoke. ipgate still reports
            // such statements instead of evaluating them.
            Some(false) => Applies::Unknown("uses NotAction".to_string()),
            None => Applies::Unknown("has an invalid NotAction".to_string()),
        },
        (Some(_), Some(_)) => Applies::Unknown("has both Action and NotAction".to_string()),
        (None, None) => Applies::Unknown("has no Action".to_string()),
    }
}

/// Returns whether any action pattern matches Invoke, or `None` when the value is not a
/// string or a list of strings.
fn names_invoke(action: &Value) -> Option<bool> {
    let patterns = string_list(action)?;
    Some(
        patterns
            .iter()
            .any(|pattern| glob_matches(&pattern.to_ascii_lowercase(), INVOKE_ACTION)),
    )
}

/// Returns the widest coverage of the stage among the statement's resources.
fn read_coverage(
    fields: &Map<String, Value>,
    stage: &str,
    api: &ApiContext,
) -> Result<Coverage, String> {
    match (fields.get("Resource"), fields.get("NotResource")) {
        (Some(resource), None) => {
            let resources =
                string_list(resource).ok_or_else(|| "has an invalid Resource".to_string())?;
            let coverages: Vec<Coverage> = resources
                .iter()
                .map(|resource| stage_coverage(resource, stage, api))
                .collect();
            if coverages.contains(&Coverage::Whole) {
                Ok(Coverage::Whole)
            } else if coverages.contains(&Coverage::Partial) {
                Ok(Coverage::Partial)
            } else {
                Ok(Coverage::None)
            }
        }
        (None, Some(_)) => Err("uses NotResource".to_string()),
        (Some(_), Some(_)) => Err("has both Resource and NotResource".to_string()),
        (None, None) => Err("has no Resource".to_string()),
    }
}

/// Returns why the principal keeps the statement from being evaluated, or `None` when it
/// covers every caller.
fn read_principal(fields: &Map<String, Value>) -> Option<String> {
    match (fields.get("Principal"), fields.get("NotPrincipal")) {
        (Some(principal), None) if is_everyone(principal) => None,
        (Some(principal), None) => Some(format!(
            "applies only to principal {}",
            describe_principal(principal)
        )),
        (None, Some(_)) => Some("uses NotPrincipal".to_string()),
        (Some(_), Some(_)) => Some("has both Principal and NotPrincipal".to_string()),
        (None, None) => Some("has no Principal".to_string()),
    }
}

fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(text) => text == "*",
        Value::Object(fields) => fields
            .get("AWS")
            .and_then(string_list)
            .is_some_and(|names| names.iter().any(|name| name == "*")),
        _ => false,
    }
}

/// Names a principal: the ARNs of `{"AWS": ...}`, `TYPE NAME` for other types.
fn describe_principal(principal: &Value) -> String {
    let Value::Object(types) = principal else {
        return match principal {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
    };
    let mut names = Vec::new();
    for (kind, value) in types {
        let values = string_list(value).unwrap_or_else(|| vec![value.to_string()]);
        for name in values {
            if kind == "AWS" {
                names.push(name);
            } else {
                names.push(format!("{kind} {name}"));
            }
        }
    }
    names.join(" or ")
}

/// The readable clauses of a `Condition` and why the rest cannot be evaluated.
struct ConditionRead {
    clauses: Vec<Clause>,
    problems: Vec<String>,
}

/// Reads `Condition`. Operators and keys ignore letter case. Operators, and the keys under one
/// operator, are ANDed, and the values of one key are ORed.
fn read_condition(condition: Option<&Value>) -> ConditionRead {
    let mut read = ConditionRead {
        clauses: Vec::new(),
        problems: Vec::new(),
    };
    let Some(condition) = condition else {
        return read;
    };
    let Value::Object(operators) = condition else {
        read.problems.push(format!(
            "has an invalid Condition ({}, not an object)",
            describe_json(condition)
        ));
        return read;
    };

    let mut unsupported = Vec::new();
    for (operator, entries) in operators {
        let negated = if operator.eq_ignore_ascii_case("IpAddress") {
            Some(false)
        } else if operator.eq_ignore_ascii_case("NotIpAddress") {
            Some(true)
        } else {
            None
        };
        let Value::Object(entries) = entries else {
            read.problems.push(format!(
                "has an invalid Condition (operator {operator} maps to {}, not an object)",
                describe_json(entries)
            ));
            continue;
        };
        if entries.is_empty() {
            read.problems
                .push(format!("has a condition operator {operator} with no keys"));
            continue;
        }

        for (key, values) in entries {
            let address_key = if key.eq_ignore_ascii_case(SOURCE_IP_KEY) {
                Some(AddressKey::SourceIp)
            } else if key.eq_ignore_ascii_case(VPC_SOURCE_IP_KEY) {
                Some(AddressKey::VpcSourceIp)
            } else {
                None
            };
            let (Some(negated), Some(address_key)) = (negated, address_key) else {
                unsupported.push(format!("{operator} {key}"));
                continue;
            };
            match read_clause_values(key, values) {
                Ok(networks) => read.clauses.push(Clause {
                    negated,
                    key: address_key,
                    set: AddressSet::from_networks(networks.iter().copied()),
                    networks,
                }),
                Err(problem) => read.problems.push(problem),
            }
        }
    }

    match unsupported.as_slice() {
        [] => {}
        [one] => read
            .problems
            .push(format!("has a condition ipgate cannot evaluate ({one})")),
        several => read.problems.push(format!(
            "has conditions ipgate cannot evaluate ({})",
            several.join(", ")
        )),
    }
    read
}

/// Parses the values of one address key, with host bits cleared.
fn read_clause_values(key: &str, values: &Value) -> Result<Vec<IpNetwork>, String> {
    let Some(texts) = string_list(values) else {
        return Err(format!(
            "has an invalid {key} value ({}, not a string or a list of strings)",
            describe_json(values)
        ));
    };
    if texts.is_empty() {
        return Err(format!("has an empty list of {key} values"));
    }
    texts
        .iter()
        .map(|text| {
            parse_cidr(text)
                .map(clear_host_bits)
                .map_err(|error| format!("has an invalid {key} value: {error}"))
        })
        .collect()
}

fn clear_host_bits(network: IpNetwork) -> IpNetwork {
    // A network's own prefix is always valid for its base address.
    IpNetwork::new(network.network(), network.prefix()).expect("the prefix is unchanged")
}

/// Reads a string or a list of strings, or returns `None` for anything else.
fn string_list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(text) => Some(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

fn describe_json(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// One caller
// ---------------------------------------------------------------------------------------------

/// The outcome of evaluating a policy for one caller of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed on every method and path of the stage.
    Allowed,
    /// Denied on every method and path of the stage.
    Denied,
    /// Allowed on some methods or paths at most and denied on the others, because a statement
    /// that decides covers only part of the stage.
    Partial,
    /// A statement ipgate cannot evaluate could change the result.
    Unknown,
}

/// The result of evaluating a policy for one caller of one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// Indexes of the statements that decide, from 0. Empty for an implicit deny.
    pub deciding_statements: Vec<usize>,
    /// Plain words: "denied by statement 2 (Deny unless source address in 203.0.113.0/24)".
    pub reason: String,
}

/// Evaluates whether a caller at `address` may invoke `stage`, for any method and path.
///
/// `via_vpc_endpoint` is true when the call arrives through a VPC endpoint, so that the
/// address is `aws:VpcSourceIp` instead of `aws:SourceIp`. An IPv4-mapped IPv6 address is
/// taken as the IPv4 address it holds.
///
/// A document whose `Statement` list is empty denies every call, because no `Allow` applies.
/// NOTE: `policy::stage_access` reads such a document as unrestricted instead.
pub fn evaluate_address(
    doc: Option<&Value>,
    stage: &str,
    address: IpAddr,
    via_vpc_endpoint: bool,
    api: &ApiContext,
) -> Decision {
    let Some(doc) = doc else {
        return decision(Outcome::Allowed, Vec::new(), "allowed: no resource policy");
    };
    let statements = match analyze_document(doc, stage, api) {
        Ok(statements) => statements,
        Err(problem) => {
            let reason = format!("unknown: the policy is invalid: {problem}");
            return decision(Outcome::Unknown, Vec::new(), reason);
        }
    };
    let address = address.to_canonical();
    let matching: Vec<&StatementAnalysis> = statements
        .iter()
        .filter(|statement| statement.may_match(address, via_vpc_endpoint))
        .collect();

    let evaluable = |effect: Effect, coverage: Coverage| -> Vec<&StatementAnalysis> {
        matching
            .iter()
            .copied()
            .filter(|s| s.is_evaluable() && s.effect == Some(effect) && s.coverage == coverage)
            .collect()
    };
    let whole_denies = evaluable(Effect::Deny, Coverage::Whole);
    if !whole_denies.is_empty() {
        let reason = format!("denied by {}", described_statements(&whole_denies));
        return decision(Outcome::Denied, indexes(&whole_denies), reason);
    }

    let base = decide_evaluable(
        &evaluable(Effect::Allow, Coverage::Whole),
        &evaluable(Effect::Allow, Coverage::Partial),
        &evaluable(Effect::Deny, Coverage::Partial),
    );
    let unknown: Vec<&StatementAnalysis> = matching
        .iter()
        .copied()
        .filter(|s| !s.is_evaluable())
        .filter(|s| match (s.effect, base.outcome) {
            // An Allow cannot change an allowed call, nor a Deny an implicitly denied one.
            (Some(Effect::Allow), Outcome::Allowed) => false,
            (Some(Effect::Deny), Outcome::Denied) => false,
            _ => true,
        })
        .collect();
    if unknown.is_empty() {
        return base;
    }

    let reasons: Vec<String> = unknown
        .iter()
        .map(|s| format!("{} {}", statement_label(s.index), s.reason()))
        .collect();
    let reason = format!("unknown: {}", reasons.join("; "));
    decision(Outcome::Unknown, indexes(&unknown), reason)
}

/// Decides from the evaluable statements that match when no whole-stage `Deny` matches.
fn decide_evaluable(
    whole_allows: &[&StatementAnalysis],
    partial_allows: &[&StatementAnalysis],
    partial_denies: &[&StatementAnalysis],
) -> Decision {
    if whole_allows.is_empty() && partial_allows.is_empty() {
        return decision(
            Outcome::Denied,
            Vec::new(),
            "denied: no statement allows it",
        );
    }
    if partial_denies.is_empty() && !whole_allows.is_empty() {
        let reason = format!("allowed by {}", described_statements(whole_allows));
        return decision(Outcome::Allowed, indexes(whole_allows), reason);
    }

    if !whole_allows.is_empty() {
        let reason = format!(
            "allowed by {}, except on the methods or paths denied by {}",
            described_statements(whole_allows),
            described_statements(partial_denies)
        );
        let mut deciding = indexes(whole_allows);
        deciding.extend(indexes(partial_denies));
        deciding.sort_unstable();
        return decision(Outcome::Partial, deciding, reason);
    }

    let mut reason = format!(
        "allowed only on the methods or paths of {}",
        described_statements(partial_allows)
    );
    if !partial_denies.is_empty() {
        reason.push_str(&format!(
            ", less those denied by {}",
            described_statements(partial_denies)
        ));
    }
    let mut deciding = indexes(partial_allows);
    deciding.extend(indexes(partial_denies));
    deciding.sort_unstable();
    decision(Outcome::Partial, deciding, reason)
}

fn decision(
    outcome: Outcome,
    deciding_statements: Vec<usize>,
    reason: impl Into<String>,
) -> Decision {
    Decision {
        outcome,
        deciding_statements,
        reason: reason.into(),
    }
}

fn indexes(statements: &[&StatementAnalysis]) -> Vec<usize> {
    statements.iter().map(|s| s.index).collect()
}

/// "statement 2 (Deny unless source address in 203.0.113.0/24) and statement 3 (...)".
fn described_statements(statements: &[&StatementAnalysis]) -> String {
    let parts: Vec<String> = statements
        .iter()
        .map(|s| format!("{} ({})", statement_label(s.index), s.describe()))
        .collect();
    and_list(&parts)
}

// ---------------------------------------------------------------------------------------------
// Every internet caller
// ---------------------------------------------------------------------------------------------

/// An evaluable statement that applies to the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicableStatement {
    pub index: usize,
    pub effect: Effect,
    /// [`Coverage::Whole`] or [`Coverage::Partial`].
    pub coverage: Coverage,
    /// Internet callers its condition matches. It may be empty, for example with a condition
    /// on `aws:VpcSourceIp` only.
    pub addresses: AddressSet,
    /// Callers through a VPC endpoint its condition matches.
    pub vpc_addresses: AddressSet,
    /// True when it has no condition.
    pub unconditional: bool,
    /// True when it has an `IpAddress` test on `aws:SourceIp`: on an `Allow`, an allowlist.
    pub lists_source_addresses: bool,
    /// Plain words: "Allow if source address in 203.0.113.0/24".
    pub description: String,
}

/// A statement ipgate cannot evaluate that could change who may call the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnevaluableStatement {
    pub index: usize,
    /// `None` when `Effect` itself is invalid.
    pub effect: Option<Effect>,
    /// A predicate of "statement N": "uses NotResource", "applies only to principal X".
    pub reason: String,
    /// Internet callers it might apply to, judged by the parts of its condition ipgate reads.
    pub addresses: AddressSet,
}

/// The access that internet callers, those not using a VPC endpoint, have to one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReport {
    pub stage: String,
    pub has_policy: bool,
    /// Problem with the document's outline, when it is invalid. The sets are then empty.
    pub invalid_policy: Option<String>,
    /// Callers allowed on every method and path of the stage.
    pub allowed: AddressSet,
    /// Callers allowed on some methods or paths at most, because a statement that applies to
    /// them covers only part of the stage.
    pub partly_allowed: AddressSet,
    /// Some `Allow`, evaluable or not, covers part or all of the stage.
    pub has_allow: bool,
    /// Every evaluable statement that applies to the stage, in document order.
    pub statements: Vec<ApplicableStatement>,
    /// Statements ipgate cannot evaluate that could change the sets above.
    pub unevaluable: Vec<UnevaluableStatement>,
}

/// Works out which internet callers `doc` lets invoke `stage`.
///
/// The sets leave out the statements in [`AccessReport::unevaluable`]. An unevaluable `Deny`
/// may make the real access narrower, and an unevaluable `Allow` may make it wider.
pub fn effective_access(doc: Option<&Value>, stage: &str, api: &ApiContext) -> AccessReport {
    let mut report = AccessReport {
        stage: stage.to_string(),
        has_policy: doc.is_some(),
        invalid_policy: None,
        allowed: AddressSet::new(),
        partly_allowed: AddressSet::new(),
        has_allow: false,
        statements: Vec::new(),
        unevaluable: Vec::new(),
    };
    let Some(doc) = doc else {
        report.allowed = AddressSet::everything();
        return report;
    };
    let analyses = match analyze_document(doc, stage, api) {
        Ok(analyses) => analyses,
        Err(problem) => {
            report.invalid_policy = Some(problem);
            return report;
        }
    };
    report.has_allow = analyses.iter().any(|s| s.effect != Some(Effect::Deny));

    report.statements = analyses
        .iter()
        .filter(|s| s.is_evaluable())
        .filter_map(applicable_statement)
        .collect();
    let sets = StageSets::of(&report.statements);
    report.allowed = sets.allowed();
    report.partly_allowed = sets
        .allows()
        .difference(&sets.whole_denies)
        .difference(&report.allowed);

    let reachable = report.allowed.union(&report.partly_allowed);
    let not_allowed = report.allowed.union(&sets.whole_denies).complement();
    report.unevaluable = analyses
        .iter()
        .filter(|s| !s.is_evaluable())
        .filter(|s| {
            let could_change = match s.effect {
                Some(Effect::Deny) => &reachable,
                Some(Effect::Allow) => &not_allowed,
                None => &AddressSet::everything(),
            };
            !s.internet.intersect(could_change).is_empty()
        })
        .map(|s| UnevaluableStatement {
            index: s.index,
            effect: s.effect,
            reason: s.reason(),
            addresses: s.internet.clone(),
        })
        .collect();
    report
}

fn applicable_statement(analysis: &StatementAnalysis) -> Option<ApplicableStatement> {
    Some(ApplicableStatement {
        index: analysis.index,
        effect: analysis.effect?,
        coverage: analysis.coverage,
        addresses: analysis.internet.clone(),
        vpc_addresses: analysis.vpc.clone(),
        unconditional: analysis.clauses.is_empty(),
        lists_source_addresses: analysis.lists_source_addresses(),
        description: analysis.describe(),
    })
}

/// The internet callers matched by each kind of evaluable statement.
struct StageSets {
    whole_allows: AddressSet,
    partial_allows: AddressSet,
    whole_denies: AddressSet,
    partial_denies: AddressSet,
}

impl StageSets {
    fn of(statements: &[ApplicableStatement]) -> StageSets {
        let union_of = |effect: Effect, coverage: Coverage| {
            statements
                .iter()
                .filter(|s| s.effect == effect && s.coverage == coverage)
                .fold(AddressSet::new(), |set, s| set.union(&s.addresses))
        };
        StageSets {
            whole_allows: union_of(Effect::Allow, Coverage::Whole),
            partial_allows: union_of(Effect::Allow, Coverage::Partial),
            whole_denies: union_of(Effect::Deny, Coverage::Whole),
            partial_denies: union_of(Effect::Deny, Coverage::Partial),
        }
    }

    fn allows(&self) -> AddressSet {
        self.whole_allows.union(&self.partial_allows)
    }

    fn denies(&self) -> AddressSet {
        self.whole_denies.union(&self.partial_denies)
    }

    /// Callers allowed on every method and path: a whole-stage `Allow` and no `Deny` at all.
    fn allowed(&self) -> AddressSet {
        self.whole_allows.difference(&self.denies())
    }
}

impl AccessReport {
    /// Returns the evaluable statements that cover only some methods or paths of the stage.
    pub fn partial_statements(&self) -> impl Iterator<Item = &ApplicableStatement> {
        self.statements
            .iter()
            .filter(|s| s.coverage == Coverage::Partial)
    }

    /// Plain words: "Everyone", "Nobody", "Only 203.0.113.0/24 and 198.51.100.17/32",
    /// "Everyone except 192.0.2.0/24", followed by notes on partial and unevaluable statements.
    pub fn summary(&self) -> String {
        if !self.has_policy {
            return "Everyone (no resource policy)".to_string();
        }
        if let Some(problem) = &self.invalid_policy {
            return format!("Unknown: the policy is invalid ({problem})");
        }

        let mut parts = Vec::new();
        if self.partly_allowed.is_empty() {
            let mut main = capitalize_first(&describe_addresses(&self.allowed));
            if self.allowed.is_empty() && !self.has_allow {
                main.push_str(" (no statement allows this stage)");
            }
            parts.push(main);
        } else {
            let partial: Vec<usize> = self
                .partial_statements()
                .filter(|s| !s.addresses.is_empty())
                .map(|s| s.index)
                .collect();
            let verb = if partial.len() == 1 {
                "covers"
            } else {
                "cover"
            };
            parts.push(format!(
                "On the whole stage: {}",
                describe_addresses(&self.allowed)
            ));
            parts.push(format!(
                "on some methods or paths only: {} ({} {verb} only part of the stage)",
                describe_addresses(&self.partly_allowed),
                statements_phrase(&partial),
            ));
        }
        for statement in &self.unevaluable {
            let direction = match statement.effect {
                Some(Effect::Allow) => "wider",
                Some(Effect::Deny) => "narrower",
                None => "different",
            };
            parts.push(format!(
                "{} could not be evaluated because it {}, so the real access may be {direction}",
                statement_label(statement.index),
                statement.reason
            ));
        }
        parts.join("; ")
    }
}

/// Names who a set of addresses is, in lower case: "only 203.0.113.0/24 (IPv6: nobody)". The
/// two families are described together where that reads naturally.
fn describe_addresses(set: &AddressSet) -> String {
    let v4 = FamilyAccess::of(&set.v4_only(), &AddressSet::everything_v4());
    let v6 = FamilyAccess::of(&set.v6_only(), &AddressSet::everything_v6());
    let joined =
        |a: &[IpNetwork], b: &[IpNetwork]| networks_phrase(&[a, b].concat(), SUMMARY_MAX_NETWORKS);
    match (&v4, &v6) {
        (FamilyAccess::Everyone, FamilyAccess::Everyone) => "everyone".to_string(),
        (FamilyAccess::Nobody, FamilyAccess::Nobody) => "nobody".to_string(),
        (FamilyAccess::Only(a), FamilyAccess::Only(b)) => format!("only {}", joined(a, b)),
        (FamilyAccess::Only(a), FamilyAccess::Nobody) => {
            format!("only {} (IPv6: nobody)", joined(a, &[]))
        }
        (FamilyAccess::Nobody, FamilyAccess::Only(b)) => {
            format!("only {} (IPv4: nobody)", joined(&[], b))
        }
        (FamilyAccess::Except(a), FamilyAccess::Except(b)) => {
            format!("everyone except {}", joined(a, b))
        }
        (FamilyAccess::Except(a), FamilyAccess::Everyone) => {
            format!("everyone except {}", joined(a, &[]))
        }
        (FamilyAccess::Everyone, FamilyAccess::Except(b)) => {
            format!("everyone except {}", joined(&[], b))
        }
        _ => format!("{} over IPv4, {} over IPv6", v4.phrase(), v6.phrase()),
    }
}

/// The callers of one address family in a set, in the shorter of the two list forms.
enum FamilyAccess {
    Everyone,
    Nobody,
    Only(Vec<IpNetwork>),
    Except(Vec<IpNetwork>),
}

impl FamilyAccess {
    fn of(part: &AddressSet, family: &AddressSet) -> FamilyAccess {
        if part.is_empty() {
            return FamilyAccess::Nobody;
        }
        if part == family {
            return FamilyAccess::Everyone;
        }
        let only = part.to_cidrs();
        let except = family.difference(part).to_cidrs();
        if except.len() < only.len() {
            FamilyAccess::Except(except)
        } else {
            FamilyAccess::Only(only)
        }
    }

    fn phrase(&self) -> String {
        match self {
            FamilyAccess::Everyone => "everyone".to_string(),
            FamilyAccess::Nobody => "nobody".to_string(),
            FamilyAccess::Only(networks) => {
                format!("only {}", networks_phrase(networks, SUMMARY_MAX_NETWORKS))
            }
            FamilyAccess::Except(networks) => format!(
                "everyone except {}",
                networks_phrase(networks, SUMMARY_MAX_NETWORKS)
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing with an allowlist
// ---------------------------------------------------------------------------------------------

/// One way the effective access differs from the allowlist ipgate shows for the stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessWarning {
    /// An unconditional whole-stage `Allow` lets every caller in, so the `Allow` statements
    /// with an `aws:SourceIp` list admit nobody it does not already admit.
    AllowlistIneffective {
        statement: usize,
        allowlist_statements: Vec<usize>,
    },
    /// No listed address may call the whole stage.
    AdmitsNobody {
        /// `Deny` statements that match listed addresses. Empty when nothing allows them.
        denied_by: Vec<usize>,
    },
    /// Some listed networks may not call the whole stage.
    NarrowerThanList {
        not_admitted: Vec<IpNetwork>,
        /// `Deny` statements that match them. Empty when nothing allows them.
        denied_by: Vec<usize>,
    },
    /// Callers outside the list may call the whole stage.
    WiderThanList {
        extra: Vec<IpNetwork>,
        allowed_by: Vec<usize>,
    },
    /// Callers outside the list may call some methods or paths, because the statements named
    /// cover only part of the stage.
    WiderOnSomePaths {
        extra: Vec<IpNetwork>,
        statements: Vec<usize>,
    },
    /// A statement ipgate cannot evaluate might admit or deny other callers.
    Unevaluable { statement: usize, reason: String },
}

impl fmt::Display for AccessWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessWarning::AllowlistIneffective {
                statement,
                allowlist_statements,
            } => {
                let (noun, verb) = if allowlist_statements.len() == 1 {
                    ("allowlist", "has")
                } else {
                    ("allowlists", "have")
                };
                write!(
                    f,
                    "{} allows everyone, so the {noun} in {} {verb} no effect",
                    statement_label(*statement),
                    statements_phrase(allowlist_statements)
                )
            }
            AccessWarning::AdmitsNobody { denied_by } => {
                f.write_str("the allowlist admits nobody to the whole stage: ")?;
                if denied_by.is_empty() {
                    f.write_str("no statement allows the listed addresses on every method and path")
                } else {
                    write!(
                        f,
                        "the listed addresses are denied by {}",
                        statements_phrase(denied_by)
                    )
                }
            }
            AccessWarning::NarrowerThanList {
                not_admitted,
                denied_by,
            } => {
                let (verb, pronoun) = if not_admitted.len() == 1 {
                    ("is", "it")
                } else {
                    ("are", "them")
                };
                write!(
                    f,
                    "{} {verb} listed but may not call the whole stage: ",
                    networks_phrase(not_admitted, SUMMARY_MAX_NETWORKS)
                )?;
                if denied_by.is_empty() {
                    write!(f, "no statement allows {pronoun} on every method and path")
                } else {
                    write!(f, "denied by {}", statements_phrase(denied_by))
                }
            }
            AccessWarning::WiderThanList { extra, allowed_by } => {
                let verb = if extra.len() == 1 { "is" } else { "are" };
                write!(
                    f,
                    "{} {verb} not listed but allowed by {}",
                    networks_phrase(extra, SUMMARY_MAX_NETWORKS),
                    statements_phrase(allowed_by)
                )
            }
            AccessWarning::WiderOnSomePaths { extra, statements } => {
                let (is, cover) = match (extra.len(), statements.len()) {
                    (1, 1) => ("is", "covers"),
                    (1, _) => ("is", "cover"),
                    (_, 1) => ("are", "covers"),
                    _ => ("are", "cover"),
                };
                write!(
                    f,
                    "{} {is} not listed but may call some methods or paths ({} {cover} only part of the stage)",
                    networks_phrase(extra, SUMMARY_MAX_NETWORKS),
                    statements_phrase(statements)
                )
            }
            AccessWarning::Unevaluable { statement, reason } => write!(
                f,
                "{} could not be evaluated because it {reason}, so the real access may differ from the allowlist",
                statement_label(*statement)
            ),
        }
    }
}

/// Lists every way the report's effective access differs from `allowlist` for internet callers
/// on the whole stage, with the statements responsible.
///
/// Entries that do not parse as CIDRs are skipped, because `cidr::parse_entry` reports them. An empty
/// allowlist has no defined meaning, so it only yields the unevaluable statements.
pub fn compare_with_allowlist(report: &AccessReport, allowlist: &[String]) -> Vec<AccessWarning> {
    let mut warnings = Vec::new();
    if !report.has_policy || report.invalid_policy.is_some() {
        return warnings;
    }
    let listed = AddressSet::from_networks(
        allowlist
            .iter()
            .filter_map(|entry| parse_cidr(entry.trim()).ok()),
    );
    if !listed.is_empty() {
        compare_listed(report, &listed, &mut warnings);
    }
    warnings.extend(
        report
            .unevaluable
            .iter()
            .map(|s| AccessWarning::Unevaluable {
                statement: s.index,
                reason: s.reason.clone(),
            }),
    );
    warnings
}

fn compare_listed(report: &AccessReport, listed: &AddressSet, warnings: &mut Vec<AccessWarning>) {
    let not_admitted = listed.difference(&report.allowed);
    if &not_admitted == listed {
        warnings.push(AccessWarning::AdmitsNobody {
            denied_by: denies_matching(report, listed),
        });
    } else if !not_admitted.is_empty() {
        warnings.push(AccessWarning::NarrowerThanList {
            not_admitted: not_admitted.to_cidrs(),
            denied_by: denies_matching(report, &not_admitted),
        });
    }

    let extra = report.allowed.difference(listed);
    if !extra.is_empty() {
        compare_extra(report, &extra, warnings);
    }

    let extra_on_some_paths = report.partly_allowed.difference(listed);
    if !extra_on_some_paths.is_empty() {
        let statements = report
            .partial_statements()
            .filter(|s| !s.addresses.intersect(&extra_on_some_paths).is_empty())
            .map(|s| s.index)
            .collect();
        warnings.push(AccessWarning::WiderOnSomePaths {
            extra: extra_on_some_paths.to_cidrs(),
            statements,
        });
    }
}

fn denies_matching(report: &AccessReport, addresses: &AddressSet) -> Vec<usize> {
    report
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny && !s.addresses.intersect(addresses).is_empty())
        .map(|s| s.index)
        .collect()
}

/// Explains the unlisted callers allowed on the whole stage. An unconditional `Allow` next to
/// an `aws:SourceIp` allowlist defeats that list, and any other `Allow` widens it.
fn compare_extra(report: &AccessReport, extra: &AddressSet, warnings: &mut Vec<AccessWarning>) {
    let whole_allows: Vec<&ApplicableStatement> = report
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.coverage == Coverage::Whole)
        .filter(|s| !s.addresses.intersect(extra).is_empty())
        .collect();
    let allowlist_statements: Vec<usize> = report
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.coverage == Coverage::Whole)
        .filter(|s| s.lists_source_addresses)
        .map(|s| s.index)
        .collect();

    let (defeating, widening): (Vec<_>, Vec<_>) = whole_allows
        .into_iter()
        .partition(|s| s.unconditional && !allowlist_statements.is_empty());
    for statement in &defeating {
        warnings.push(AccessWarning::AllowlistIneffective {
            statement: statement.index,
            allowlist_statements: allowlist_statements.clone(),
        });
    }

    // An unconditional Allow admits every caller, so it already explains all of `extra`.
    if defeating.is_empty() && !widening.is_empty() {
        warnings.push(AccessWarning::WiderThanList {
            extra: extra.to_cidrs(),
            allowed_by: widening.iter().map(|s| s.index).collect(),
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

fn statement_label(index: usize) -> String {
    format!("statement {}", index + 1)
}

/// "statement 2", "statements 2 and 3", "statements 1, 2 and 4".
fn statements_phrase(indexes: &[usize]) -> String {
    let numbers: Vec<String> = indexes.iter().map(|i| (i + 1).to_string()).collect();
    match numbers.as_slice() {
        [one] => format!("statement {one}"),
        _ => format!("statements {}", and_list(&numbers)),
    }
}

/// Lists at most `max` networks, then counts the rest.
fn networks_phrase(networks: &[IpNetwork], max: usize) -> String {
    let mut parts: Vec<String> = networks.iter().take(max).map(|n| n.to_string()).collect();
    if networks.len() > max {
        let rest = networks.len() - max;
        let noun = if rest == 1 { "network" } else { "networks" };
        parts.push(format!("{rest} more {noun}"));
    }
    and_list(&parts)
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn capitalize_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ALL: &str = "execute-api:/*";
    const LISTED: &str = "203.0.113.0/24";
    const OFFICE: &str = "198.51.100.17/32";
    const OTHER: &str = "192.0.2.0/24";
    const VPC: &str = "10.0.0.0/8";
    const ROOT: &str = "arn:aws:iam::123456789012:root";

    fn api() -> ApiContext {
        ApiContext {
            region: Some("eu-west-1".to_string()),
            account: Some("123456789012".to_string()),
            api_id: Some("abc".to_string()),
        }
    }

    fn statement(effect: &str, resource: &str, condition: Option<Value>) -> Value {
        let mut statement = json!({
            "Effect": effect, "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource
        });
        if let Some(condition) = condition {
            statement["Condition"] = condition;
        }
        statement
    }

    fn allow(resource: &str) -> Value {
        statement("Allow", resource, None)
    }

    fn deny(resource: &str) -> Value {
        statement("Deny", resource, None)
    }

    fn allow_if_ip(resource: &str, cidrs: &[&str]) -> Value {
        statement(
            "Allow",
            resource,
            Some(json!({"IpAddress": {"aws:SourceIp": cidrs}})),
        )
    }

    fn deny_if_ip(resource: &str, cidrs: &[&str]) -> Value {
        statement(
            "Deny",
            resource,
            Some(json!({"IpAddress": {"aws:SourceIp": cidrs}})),
        )
    }

    fn deny_unless_ip(resource: &str, cidrs: &[&str]) -> Value {
        statement(
            "Deny",
            resource,
            Some(json!({"NotIpAddress": {"aws:SourceIp": cidrs}})),
        )
    }

    /// Replaces or adds one element of a statement. `Value::Null` removes it.
    fn with(mut statement: Value, element: &str, value: Value) -> Value {
        let fields = statement.as_object_mut().unwrap();
        if value.is_null() {
            fields.remove(element);
        } else {
            fields.insert(element.to_string(), value);
        }
        statement
    }

    fn for_root(statement: Value) -> Value {
        with(statement, "Principal", json!({"AWS": ROOT}))
    }

    fn policy(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(texts: &[&str]) -> Vec<IpNetwork> {
        texts.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn set(texts: &[&str]) -> AddressSet {
        AddressSet::from_cidrs(texts).unwrap()
    }

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    fn shape_a() -> Value {
        policy(vec![allow_if_ip(ALL, &[LISTED, OFFICE])])
    }

    fn shape_b() -> Value {
        policy(vec![allow(ALL), deny_unless_ip(ALL, &[LISTED, OFFICE])])
    }

    fn shape_a_defeated() -> Value {
        policy(vec![allow_if_ip(ALL, &[LISTED]), allow(ALL)])
    }

    fn listed_network_denied() -> Value {
        policy(vec![
            allow_if_ip(ALL, &[LISTED, OTHER]),
            deny_if_ip(ALL, &[OTHER]),
        ])
    }

    fn no_allow() -> Value {
        policy(vec![deny_unless_ip(ALL, &[LISTED])])
    }

    fn stage_scoped() -> Value {
        policy(vec![
            allow(ALL),
            deny_unless_ip("execute-api:/dev/*", &[LISTED]),
            deny_unless_ip("execute-api:/prod/*", &[OTHER]),
        ])
    }

    fn method_scoped_allow() -> Value {
        policy(vec![
            allow_if_ip(ALL, &[LISTED]),
            allow("execute-api:/dev/GET/*"),
        ])
    }

    fn method_scoped_deny() -> Value {
        policy(vec![
            allow(ALL),
            deny_unless_ip("execute-api:/dev/POST/*", &[LISTED]),
        ])
    }

    fn vpc_allow() -> Value {
        policy(vec![statement(
            "Allow",
            ALL,
            Some(json!({"IpAddress": {"aws:VpcSourceIp": VPC}})),
        )])
    }

    fn vpc_deny_unless() -> Value {
        policy(vec![
            allow(ALL),
            statement(
                "Deny",
                ALL,
                Some(json!({"NotIpAddress": {"aws:VpcSourceIp": [VPC]}})),
            ),
        ])
    }

    fn mixed_principals() -> Value {
        policy(vec![allow_if_ip(ALL, &[LISTED]), for_root(allow(ALL))])
    }

    fn source_vpce_allow() -> Value {
        policy(vec![statement(
            "Allow",
            ALL,
            Some(json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}})),
        )])
    }

    /// Builds a private API's policy: only one VPC endpoint, and only some addresses behind it.
    fn private_api() -> Value {
        policy(vec![statement(
            "Allow",
            ALL,
            Some(json!({
                "StringEquals": {"aws:SourceVpce": "vpce-1"},
                "IpAddress": {"aws:VpcSourceIp": VPC}
            })),
        )])
    }

    fn deny_other_endpoints() -> Value {
        policy(vec![
            allow(ALL),
            statement(
                "Deny",
                ALL,
                Some(json!({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}})),
            ),
        ])
    }

    fn not_principal_deny() -> Value {
        let deny = with(deny(ALL), "Principal", Value::Null);
        policy(vec![
            allow(ALL),
            with(deny, "NotPrincipal", json!({"AWS": ROOT})),
        ])
    }

    fn not_resource_allow() -> Value {
        let allow = with(allow(ALL), "Resource", Value::Null);
        policy(vec![
            allow_if_ip(ALL, &[LISTED]),
            with(allow, "NotResource", json!("execute-api:/prod/*")),
        ])
    }

    fn not_action(pattern: &str) -> Value {
        with(
            with(allow(ALL), "Action", Value::Null),
            "NotAction",
            json!(pattern),
        )
    }

    /// One call to evaluate: internet caller of stage `dev` unless changed.
    struct Call {
        doc: Option<Value>,
        stage: &'static str,
        address: &'static str,
        via_vpc_endpoint: bool,
    }

    fn call(doc: Value, address: &'static str) -> Call {
        Call {
            doc: Some(doc),
            stage: "dev",
            address,
            via_vpc_endpoint: false,
        }
    }

    impl Call {
        fn on(self, stage: &'static str) -> Call {
            Call { stage, ..self }
        }

        fn via_endpoint(self) -> Call {
            Call {
                via_vpc_endpoint: true,
                ..self
            }
        }
    }

    fn deny_for_root() -> Value {
        policy(vec![allow(ALL), for_root(deny(ALL))])
    }

    fn root_allow_then_deny() -> Value {
        policy(vec![for_root(allow(ALL)), deny(ALL)])
    }

    fn partial_allow_and_deny() -> Value {
        policy(vec![
            allow("execute-api:/dev/GET/*"),
            deny("execute-api:/dev/GET/pets"),
        ])
    }

    fn with_condition(condition: Value) -> Value {
        policy(vec![statement("Allow", ALL, Some(condition))])
    }

    fn ip_range_with_hole() -> Value {
        with_condition(json!({
            "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
            "NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}
        }))
    }

    fn both_address_keys() -> Value {
        with_condition(json!({"IpAddress": {"aws:SourceIp": LISTED, "aws:VpcSourceIp": VPC}}))
    }

    fn deny_if_exists() -> Value {
        let condition = json!({"NotIpAddressIfExists": {"aws:SourceIp": LISTED}});
        policy(vec![allow(ALL), statement("Deny", ALL, Some(condition))])
    }

    fn other_action() -> Value {
        let manage = with(allow(ALL), "Action", json!("execute-api:ManageConnections"));
        policy(vec![allow_if_ip(ALL, &[LISTED]), manage])
    }

    fn star_in_lists() -> Value {
        policy(vec![json!({
            "Effect": "Allow", "Principal": {"AWS": ["*"]},
            "Action": ["execute-api:*"], "Resource": [ALL]
        })])
    }

    #[test]
    fn evaluate_table() {
        use Outcome::{Allowed, Denied, Partial, Unknown};
        let private = "10.1.2.3";
        let this_api = "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/*";
        let other_api = "arn:aws:execute-api:eu-west-1:123456789012:other/*";
        let not_invoke = "execute-api:ManageConnections";
        let no_policy = Call {
            doc: None,
            ..call(Value::Null, "192.0.2.1")
        };

        #[rustfmt::skip]
        let cases: Vec<(&str, Call, Outcome, Vec<usize>)> = vec![
            ("no policy", no_policy, Allowed, vec![]),
            ("zero statements", call(policy(vec![]), "192.0.2.1"), Denied, vec![]),
            ("shape A, listed", call(shape_a(), "203.0.113.5"), Allowed, vec![0]),
            ("shape A, single address", call(shape_a(), "198.51.100.17"), Allowed, vec![0]),
            ("shape A, next address", call(shape_a(), "198.51.100.18"), Denied, vec![]),
            ("shape A, outside", call(shape_a(), "192.0.2.1"), Denied, vec![]),
            ("shape A, IPv6 caller", call(shape_a(), "2001:db8::1"), Denied, vec![]),
            ("shape A, IPv4-mapped", call(shape_a(), "::ffff:203.0.113.5"), Allowed, vec![0]),
            ("shape A, VPC endpoint", call(shape_a(), "203.0.113.5").via_endpoint(), Denied, vec![]),
            ("shape B, listed", call(shape_b(), "203.0.113.5"), Allowed, vec![0]),
            ("shape B, outside", call(shape_b(), "192.0.2.1"), Denied, vec![1]),
            ("shape B, IPv6 caller", call(shape_b(), "2001:db8::1"), Denied, vec![1]),
            ("shape B, VPC endpoint", call(shape_b(), "203.0.113.5").via_endpoint(), Denied, vec![1]),
            ("A defeated, outside", call(shape_a_defeated(), "192.0.2.1"), Allowed, vec![1]),
            ("A defeated, listed", call(shape_a_defeated(), "203.0.113.5"), Allowed, vec![0, 1]),
            ("listed but denied", call(listed_network_denied(), "192.0.2.1"), Denied, vec![1]),
            ("listed and kept", call(listed_network_denied(), "203.0.113.5"), Allowed, vec![0]),
            ("no allow, listed", call(no_allow(), "203.0.113.5"), Denied, vec![]),
            ("no allow, outside", call(no_allow(), "192.0.2.1"), Denied, vec![0]),
            ("dev, listed", call(stage_scoped(), "203.0.113.5"), Allowed, vec![0]),
            ("dev, prod's list", call(stage_scoped(), "192.0.2.1"), Denied, vec![1]),
            ("prod, prod's list", call(stage_scoped(), "192.0.2.1").on("prod"), Allowed, vec![0]),
            ("prod, dev's list", call(stage_scoped(), "203.0.113.5").on("prod"), Denied, vec![2]),
            ("unlisted stage", call(stage_scoped(), "198.51.100.1").on("test"), Allowed, vec![0]),
            ("GET allow, outside", call(method_scoped_allow(), "192.0.2.1"), Partial, vec![1]),
            ("GET allow, listed", call(method_scoped_allow(), "203.0.113.5"), Allowed, vec![0]),
            ("GET allow, prod", call(method_scoped_allow(), "192.0.2.1").on("prod"), Denied, vec![]),
            ("POST deny, outside", call(method_scoped_deny(), "192.0.2.1"), Partial, vec![0, 1]),
            ("POST deny, listed", call(method_scoped_deny(), "203.0.113.5"), Allowed, vec![0]),
            ("partial both", call(partial_allow_and_deny(), "192.0.2.1"), Partial, vec![0, 1]),
            ("VPC allow, internet", call(vpc_allow(), private), Denied, vec![]),
            ("VPC allow, endpoint", call(vpc_allow(), private).via_endpoint(), Allowed, vec![0]),
            ("VPC allow, outside", call(vpc_allow(), "192.0.2.1").via_endpoint(), Denied, vec![]),
            ("VPC deny, internet", call(vpc_deny_unless(), "203.0.113.5"), Denied, vec![1]),
            ("VPC deny, endpoint", call(vpc_deny_unless(), private).via_endpoint(), Allowed, vec![0]),
            ("principals, listed", call(mixed_principals(), "203.0.113.5"), Allowed, vec![0]),
            ("principals, outside", call(mixed_principals(), "192.0.2.1"), Unknown, vec![1]),
            ("deny for root", call(deny_for_root(), "192.0.2.1"), Unknown, vec![1]),
            ("deny for root only", call(policy(vec![for_root(deny(ALL))]), "192.0.2.1"), Denied, vec![]),
            ("deny beats unknown", call(root_allow_then_deny(), "192.0.2.1"), Denied, vec![1]),
            ("source VPC endpoint", call(source_vpce_allow(), "192.0.2.1"), Unknown, vec![0]),
            ("private, internet", call(private_api(), private), Denied, vec![]),
            ("private, endpoint", call(private_api(), private).via_endpoint(), Unknown, vec![0]),
            ("private, outside", call(private_api(), "192.0.2.1").via_endpoint(), Denied, vec![]),
            ("other endpoints", call(deny_other_endpoints(), "192.0.2.1"), Unknown, vec![1]),
            ("NotPrincipal", call(not_principal_deny(), "192.0.2.1"), Unknown, vec![1]),
            ("NotResource, outside", call(not_resource_allow(), "192.0.2.1"), Unknown, vec![1]),
            ("NotResource, listed", call(not_resource_allow(), "203.0.113.5"), Allowed, vec![0]),
            (
                "NotAction names Invoke",
                call(policy(vec![allow_if_ip(ALL, &[LISTED]), not_action("execute-api:Invoke")]), "192.0.2.1"),
                Denied, vec![],
            ),
            ("NotAction wildcard", call(policy(vec![not_action("execute-api:*")]), "192.0.2.1"), Denied, vec![]),
            ("NotAction other", call(policy(vec![not_action(not_invoke)]), "192.0.2.1"), Unknown, vec![0]),
            ("other action", call(other_action(), "192.0.2.1"), Denied, vec![]),
            (
                "statement as one object",
                call(json!({"Statement": allow_if_ip(ALL, &[LISTED])}), "203.0.113.5"),
                Allowed, vec![0],
            ),
            (
                "letter case of operator and key",
                call(with_condition(json!({"ipaddress": {"AWS:SOURCEIP": LISTED}})), "203.0.113.5"),
                Allowed, vec![0],
            ),
            ("IfExists operator", call(deny_if_exists(), "192.0.2.1"), Unknown, vec![1]),
            (
                "ForAnyValue operator",
                call(with_condition(json!({"ForAnyValue:IpAddress": {"aws:SourceIp": [LISTED]}})), "203.0.113.5"),
                Unknown, vec![0],
            ),
            ("operators ANDed, inside", call(ip_range_with_hole(), "10.2.0.1"), Allowed, vec![0]),
            ("operators ANDed, hole", call(ip_range_with_hole(), "10.1.0.1"), Denied, vec![]),
            ("keys ANDed, internet", call(both_address_keys(), "203.0.113.5"), Denied, vec![]),
            ("keys ANDed, endpoint", call(both_address_keys(), private).via_endpoint(), Denied, vec![]),
            (
                "value with host bits",
                call(policy(vec![allow_if_ip(ALL, &["192.0.2.77/24"])]), "192.0.2.1"),
                Allowed, vec![0],
            ),
            (
                "bare address value",
                call(policy(vec![allow_if_ip(ALL, &["192.0.2.5"])]), "192.0.2.6"),
                Denied, vec![],
            ),
            (
                "IPv6 listed",
                call(policy(vec![allow_if_ip(ALL, &[LISTED, "2001:db8::/32"])]), "2001:db8::1"),
                Allowed, vec![0],
            ),
            ("star in lists", call(star_in_lists(), "192.0.2.1"), Allowed, vec![0]),
            ("ARN of this API", call(policy(vec![allow(this_api)]), "192.0.2.1"), Allowed, vec![0]),
            ("ARN of other API", call(policy(vec![allow(other_api)]), "192.0.2.1"), Denied, vec![]),
            (
                "Effect in lower case",
                call(policy(vec![with(allow(ALL), "Effect", json!("allow"))]), "192.0.2.1"),
                Unknown, vec![0],
            ),
            ("statement not an object", call(policy(vec![allow(ALL), json!("oops")]), "192.0.2.1"), Unknown, vec![1]),
            (
                "invalid condition value",
                call(policy(vec![allow_if_ip(ALL, &["10.0.0.300"])]), "10.0.0.1"),
                Unknown, vec![0],
            ),
            ("document is a list", call(json!([allow(ALL)]), "192.0.2.1"), Unknown, vec![]),
            ("no Statement element", call(json!({"Version": "2012-10-17"}), "192.0.2.1"), Unknown, vec![]),
        ];

        for (name, call, outcome, deciding) in cases {
            let decision = evaluate_address(
                call.doc.as_ref(),
                call.stage,
                ip(call.address),
                call.via_vpc_endpoint,
                &api(),
            );
            assert_eq!(decision.outcome, outcome, "{name}: {}", decision.reason);
            assert_eq!(
                decision.deciding_statements, deciding,
                "{name}: {}",
                decision.reason
            );
        }
    }

    #[test]
    fn evaluate_action_spellings() {
        let actions = [
            json!("*"),
            json!("execute-api:*"),
            json!("EXECUTE-API:invoke"),
            json!("execute-api:Inv*"),
            json!(["s3:GetObject", "execute-api:Invoke"]),
        ];
        for action in actions {
            let doc = policy(vec![with(allow(ALL), "Action", action.clone())]);
            let decision = evaluate_address(Some(&doc), "dev", ip("192.0.2.1"), false, &api());
            assert_eq!(decision.outcome, Outcome::Allowed, "{action}");
        }
    }

    #[test]
    fn evaluate_reasons() {
        let five = ["10.0.0.1", "10.0.0.3", "10.0.0.5", "10.0.0.7", "10.0.0.9"];
        let two_operators = statement(
            "Allow",
            ALL,
            Some(json!({
                "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                "NotIpAddress": {"aws:SourceIp": "10.1.0.0/16"}
            })),
        );
        let not_principal_vpce = with(
            with(
                statement(
                    "Deny",
                    ALL,
                    Some(json!({"StringEquals": {"aws:SourceVpce": "vpce-1"}})),
                ),
                "Principal",
                Value::Null,
            ),
            "NotPrincipal",
            json!({"AWS": ROOT}),
        );
        let cases: Vec<(Option<Value>, &str, &str)> = vec![
            (None, "192.0.2.1", "allowed: no resource policy"),
            (
                Some(shape_a()),
                "203.0.113.5",
                "allowed by statement 1 (Allow if source address in 203.0.113.0/24 and 198.51.100.17/32)",
            ),
            (
                Some(shape_a()),
                "192.0.2.1",
                "denied: no statement allows it",
            ),
            (
                Some(shape_b()),
                "192.0.2.1",
                "denied by statement 2 (Deny unless source address in 203.0.113.0/24 and 198.51.100.17/32)",
            ),
            (
                Some(shape_a_defeated()),
                "203.0.113.5",
                "allowed by statement 1 (Allow if source address in 203.0.113.0/24) and statement 2 (Allow for everyone)",
            ),
            (
                Some(vpc_deny_unless()),
                "192.0.2.1",
                "denied by statement 2 (Deny unless VPC source address in 10.0.0.0/8)",
            ),
            (
                Some(source_vpce_allow()),
                "192.0.2.1",
                "unknown: statement 1 has a condition ipgate cannot evaluate (StringEquals aws:SourceVpce)",
            ),
            (
                Some(mixed_principals()),
                "192.0.2.1",
                "unknown: statement 2 applies only to principal arn:aws:iam::123456789012:root",
            ),
            (
                Some(policy(vec![allow(ALL), not_principal_vpce])),
                "192.0.2.1",
                "unknown: statement 2 uses NotPrincipal and has a condition ipgate cannot evaluate (StringEquals aws:SourceVpce)",
            ),
            (
                Some(policy(vec![with(
                    allow(ALL),
                    "Principal",
                    json!({"Service": "lambda.amazonaws.com", "AWS": [ROOT, "arn:aws:iam::123456789012:role/ci"]}),
                )])),
                "192.0.2.1",
                "unknown: statement 1 applies only to principal Service lambda.amazonaws.com or arn:aws:iam::123456789012:root or arn:aws:iam::123456789012:role/ci",
            ),
            (
                Some(method_scoped_allow()),
                "192.0.2.1",
                "allowed only on the methods or paths of statement 2 (Allow for everyone on some methods or paths)",
            ),
            (
                Some(method_scoped_deny()),
                "192.0.2.1",
                "allowed by statement 1 (Allow for everyone), except on the methods or paths denied by statement 2 (Deny unless source address in 203.0.113.0/24 on some methods or paths)",
            ),
            (
                Some(policy(vec![
                    allow("execute-api:/dev/GET/*"),
                    deny("execute-api:/dev/GET/pets"),
                ])),
                "192.0.2.1",
                "allowed only on the methods or paths of statement 1 (Allow for everyone on some methods or paths), less those denied by statement 2 (Deny for everyone on some methods or paths)",
            ),
            (
                Some(policy(vec![two_operators])),
                "10.2.0.1",
                "allowed by statement 1 (Allow if source address in 10.0.0.0/8 and source address not in 10.1.0.0/16)",
            ),
            (
                Some(policy(vec![allow_if_ip(ALL, &five)])),
                "10.0.0.9",
                "allowed by statement 1 (Allow if source address in 10.0.0.1/32, 10.0.0.3/32, 10.0.0.5/32 and 2 more networks)",
            ),
            (
                Some(policy(vec![allow_if_ip(ALL, &["192.0.2.77/24"])])),
                "192.0.2.1",
                "allowed by statement 1 (Allow if source address in 192.0.2.0/24)",
            ),
            (
                Some(policy(vec![allow_if_ip(ALL, &["10.0.0.300"])])),
                "10.0.0.1",
                "unknown: statement 1 has an invalid aws:SourceIp value: '10.0.0.300' is not an IP address or CIDR",
            ),
            (
                Some(policy(vec![statement(
                    "Allow",
                    ALL,
                    Some(json!({"IpAddress": {"aws:SourceIp": []}})),
                )])),
                "10.0.0.1",
                "unknown: statement 1 has an empty list of aws:SourceIp values",
            ),
            (
                Some(policy(vec![statement(
                    "Allow",
                    ALL,
                    Some(json!({"IpAddress": {"aws:SourceIp": 10}})),
                )])),
                "10.0.0.1",
                "unknown: statement 1 has an invalid aws:SourceIp value (a number, not a string or a list of strings)",
            ),
            (
                Some(policy(vec![statement(
                    "Allow",
                    ALL,
                    Some(json!({"IpAddress": {}})),
                )])),
                "10.0.0.1",
                "unknown: statement 1 has a condition operator IpAddress with no keys",
            ),
            (
                Some(policy(vec![statement(
                    "Allow",
                    ALL,
                    Some(json!({
                        "StringEquals": {"aws:SourceVpce": "vpce-1"},
                        "DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}
                    })),
                )])),
                "10.0.0.1",
                "unknown: statement 1 has conditions ipgate cannot evaluate (StringEquals aws:SourceVpce, DateGreaterThan aws:CurrentTime)",
            ),
            (
                Some(policy(vec![allow(ALL), json!("oops")])),
                "192.0.2.1",
                "unknown: statement 2 is a string, not an object",
            ),
            (
                Some(policy(vec![with(allow(ALL), "Effect", json!("allow"))])),
                "192.0.2.1",
                "unknown: statement 1 has no Effect of \"Allow\" or \"Deny\"",
            ),
            (
                Some(policy(vec![with(allow(ALL), "Resource", Value::Null)])),
                "192.0.2.1",
                "unknown: statement 1 has no Resource",
            ),
            (
                Some(policy(vec![with(allow(ALL), "Principal", Value::Null)])),
                "192.0.2.1",
                "unknown: statement 1 has no Principal",
            ),
            (
                Some(policy(vec![with(allow(ALL), "Action", json!(7))])),
                "192.0.2.1",
                "unknown: statement 1 has an invalid Action",
            ),
            (
                Some(json!([allow(ALL)])),
                "192.0.2.1",
                "unknown: the policy is invalid: a policy must be a JSON object, found a list",
            ),
            (
                Some(json!({"Statement": "Allow"})),
                "192.0.2.1",
                "unknown: the policy is invalid: \"Statement\" must be an object or a list of objects, found a string",
            ),
        ];

        for (doc, address, reason) in cases {
            let decision = evaluate_address(doc.as_ref(), "dev", ip(address), false, &api());
            assert_eq!(decision.reason, reason);
        }
    }

    #[test]
    fn summary_table() {
        let eight: Vec<String> = (0..8).map(|i| format!("192.0.2.{}", 2 * i + 1)).collect();
        let eight: Vec<&str> = eight.iter().map(String::as_str).collect();
        let cases: Vec<(&str, Option<Value>, &str, &str)> = vec![
            ("no policy", None, "dev", "Everyone (no resource policy)"),
            (
                "zero statements",
                Some(policy(vec![])),
                "dev",
                "Nobody (no statement allows this stage)",
            ),
            (
                "shape A",
                Some(shape_a()),
                "dev",
                "Only 198.51.100.17/32 and 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "shape B",
                Some(shape_b()),
                "dev",
                "Only 198.51.100.17/32 and 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "shape A defeated",
                Some(shape_a_defeated()),
                "dev",
                "Everyone",
            ),
            (
                "listed network denied",
                Some(listed_network_denied()),
                "dev",
                "Only 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "no allow",
                Some(no_allow()),
                "dev",
                "Nobody (no statement allows this stage)",
            ),
            (
                "deny one network",
                Some(policy(vec![allow(ALL), deny_if_ip(ALL, &[OTHER])])),
                "dev",
                "Everyone except 192.0.2.0/24",
            ),
            (
                "both families listed",
                Some(policy(vec![allow_if_ip(ALL, &[LISTED, "2001:db8::/32"])])),
                "dev",
                "Only 203.0.113.0/24 and 2001:db8::/32",
            ),
            (
                "IPv6 only",
                Some(policy(vec![allow_if_ip(ALL, &["2001:db8::/32"])])),
                "dev",
                "Only 2001:db8::/32 (IPv4: nobody)",
            ),
            (
                "all of IPv6",
                Some(policy(vec![allow_if_ip(ALL, &[LISTED, "::/0"])])),
                "dev",
                "Only 203.0.113.0/24 over IPv4, everyone over IPv6",
            ),
            (
                "all of IPv4 but one network",
                Some(policy(vec![
                    allow_if_ip(ALL, &["0.0.0.0/0"]),
                    deny_if_ip(ALL, &[OTHER]),
                ])),
                "dev",
                "Everyone except 192.0.2.0/24 over IPv4, nobody over IPv6",
            ),
            (
                "many networks",
                Some(policy(vec![allow_if_ip(ALL, &eight)])),
                "dev",
                "Only 192.0.2.1/32, 192.0.2.3/32, 192.0.2.5/32, 192.0.2.7/32, 192.0.2.9/32, 192.0.2.11/32 and 2 more networks (IPv6: nobody)",
            ),
            (
                "dev stage",
                Some(stage_scoped()),
                "dev",
                "Only 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "prod stage",
                Some(stage_scoped()),
                "prod",
                "Only 192.0.2.0/24 (IPv6: nobody)",
            ),
            ("unlisted stage", Some(stage_scoped()), "test", "Everyone"),
            (
                "method allow",
                Some(method_scoped_allow()),
                "dev",
                "On the whole stage: only 203.0.113.0/24 (IPv6: nobody); on some methods or paths only: everyone except 203.0.113.0/24 (statement 2 covers only part of the stage)",
            ),
            (
                "method allow, other stage",
                Some(method_scoped_allow()),
                "prod",
                "Only 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "method deny",
                Some(method_scoped_deny()),
                "dev",
                "On the whole stage: only 203.0.113.0/24 (IPv6: nobody); on some methods or paths only: everyone except 203.0.113.0/24 (statement 2 covers only part of the stage)",
            ),
            ("VPC allow", Some(vpc_allow()), "dev", "Nobody"),
            ("VPC deny", Some(vpc_deny_unless()), "dev", "Nobody"),
            ("private API", Some(private_api()), "dev", "Nobody"),
            (
                "mixed principals",
                Some(mixed_principals()),
                "dev",
                "Only 203.0.113.0/24 (IPv6: nobody); statement 2 could not be evaluated because it applies only to principal arn:aws:iam::123456789012:root, so the real access may be wider",
            ),
            (
                "deny other endpoints",
                Some(deny_other_endpoints()),
                "dev",
                "Everyone; statement 2 could not be evaluated because it has a condition ipgate cannot evaluate (StringNotEquals aws:SourceVpce), so the real access may be narrower",
            ),
            (
                "NotResource",
                Some(not_resource_allow()),
                "dev",
                "Only 203.0.113.0/24 (IPv6: nobody); statement 2 could not be evaluated because it uses NotResource, so the real access may be wider",
            ),
            (
                "NotPrincipal",
                Some(not_principal_deny()),
                "dev",
                "Everyone; statement 2 could not be evaluated because it uses NotPrincipal, so the real access may be narrower",
            ),
            (
                "unevaluable deny of unlisted callers",
                Some(policy(vec![
                    allow_if_ip(ALL, &[LISTED]),
                    for_root(deny_if_ip(ALL, &[OTHER])),
                ])),
                "dev",
                "Only 203.0.113.0/24 (IPv6: nobody)",
            ),
            (
                "unevaluable allow next to an open one",
                Some(policy(vec![allow(ALL), for_root(allow(ALL))])),
                "dev",
                "Everyone",
            ),
            (
                "unevaluable allow behind a deny",
                Some(policy(vec![deny(ALL), for_root(allow(ALL))])),
                "dev",
                "Nobody",
            ),
            (
                "Effect in lower case",
                Some(policy(vec![with(allow(ALL), "Effect", json!("allow"))])),
                "dev",
                "Nobody; statement 1 could not be evaluated because it has no Effect of \"Allow\" or \"Deny\", so the real access may be different",
            ),
            (
                "invalid document",
                Some(json!([allow(ALL)])),
                "dev",
                "Unknown: the policy is invalid (a policy must be a JSON object, found a list)",
            ),
        ];

        for (name, doc, stage, summary) in cases {
            let report = effective_access(doc.as_ref(), stage, &api());
            assert_eq!(report.summary(), summary, "{name}");
        }
    }

    #[test]
    fn report_sets() {
        let report = effective_access(Some(&shape_b()), "dev", &api());
        assert_eq!(report.allowed.to_cidrs(), nets(&[OFFICE, LISTED]));
        assert!(report.partly_allowed.is_empty());
        assert!(report.unevaluable.is_empty());
        assert_eq!(report.statements.len(), 2);
        assert!(report.statements[0].unconditional);
        assert!(!report.statements[1].lists_source_addresses);
        assert_eq!(
            report.statements[1].description,
            "Deny unless source address in 203.0.113.0/24 and 198.51.100.17/32"
        );

        let report = effective_access(Some(&method_scoped_allow()), "dev", &api());
        assert_eq!(report.allowed, set(&[LISTED]));
        assert_eq!(report.partly_allowed, set(&[LISTED]).complement());
        let partial: Vec<usize> = report.partial_statements().map(|s| s.index).collect();
        assert_eq!(partial, vec![1]);

        let report = effective_access(Some(&vpc_allow()), "dev", &api());
        assert!(report.allowed.is_empty());
        assert!(report.statements[0].addresses.is_empty());
        assert_eq!(report.statements[0].vpc_addresses, set(&[VPC]));

        let report = effective_access(Some(&mixed_principals()), "dev", &api());
        assert_eq!(
            report.unevaluable,
            vec![UnevaluableStatement {
                index: 1,
                effect: Some(Effect::Allow),
                reason: format!("applies only to principal {ROOT}"),
                addresses: AddressSet::everything(),
            }]
        );

        let report = effective_access(None, "dev", &api());
        assert!(report.allowed.is_everything());
        assert!(!report.has_policy);
    }

    /// For policies ipgate evaluates fully, the report and single-address decisions agree.
    #[test]
    fn report_agrees_with_decisions() {
        let policies = [
            shape_a(),
            shape_b(),
            shape_a_defeated(),
            listed_network_denied(),
            no_allow(),
            stage_scoped(),
            method_scoped_allow(),
            method_scoped_deny(),
            vpc_allow(),
            vpc_deny_unless(),
            policy(vec![allow(ALL), deny_if_ip(ALL, &[OTHER])]),
            policy(vec![allow_if_ip(ALL, &[LISTED, "::/0"])]),
        ];
        let addresses = [
            "203.0.113.0",
            "203.0.113.255",
            "203.0.112.255",
            "203.0.114.0",
            "198.51.100.17",
            "198.51.100.16",
            "192.0.2.1",
            "10.1.2.3",
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for (number, doc) in policies.iter().enumerate() {
            for stage in ["dev", "prod"] {
                let report = effective_access(Some(doc), stage, &api());
                assert!(report.unevaluable.is_empty());
                for address in addresses {
                    let address = ip(address);
                    let decision = evaluate_address(Some(doc), stage, address, false, &api());
                    let expected = if report.allowed.contains(address) {
                        Outcome::Allowed
                    } else if report.partly_allowed.contains(address) {
                        Outcome::Partial
                    } else {
                        Outcome::Denied
                    };
                    assert_eq!(
                        decision.outcome, expected,
                        "policy {number}, {stage}, {address}: {}",
                        decision.reason
                    );
                }
            }
        }
    }

    #[test]
    fn compare_table() {
        let everyone_else = set(&[LISTED]).complement().to_cidrs();
        // Name, policy, allowlist, expected warnings.
        type Case = (
            &'static str,
            Option<Value>,
            &'static [&'static str],
            Vec<AccessWarning>,
        );
        let cases: Vec<Case> = vec![
            ("no policy", None, &[LISTED], vec![]),
            (
                "shape A matches",
                Some(shape_a()),
                &[LISTED, OFFICE],
                vec![],
            ),
            (
                "shape B matches",
                Some(shape_b()),
                &[OFFICE, LISTED],
                vec![],
            ),
            ("empty allowlist", Some(shape_a()), &[], vec![]),
            (
                "unreadable entry skipped",
                Some(shape_a()),
                &["nonsense", LISTED, " 198.51.100.17 "],
                vec![],
            ),
            (
                "shape A defeated",
                Some(shape_a_defeated()),
                &[LISTED],
                vec![AccessWarning::AllowlistIneffective {
                    statement: 1,
                    allowlist_statements: vec![0],
                }],
            ),
            (
                "listed network denied",
                Some(listed_network_denied()),
                &[LISTED, OTHER],
                vec![AccessWarning::NarrowerThanList {
                    not_admitted: nets(&[OTHER]),
                    denied_by: vec![1],
                }],
            ),
            (
                "no allow",
                Some(no_allow()),
                &[LISTED],
                vec![AccessWarning::AdmitsNobody { denied_by: vec![] }],
            ),
            (
                "every listed address denied",
                Some(policy(vec![
                    allow_if_ip(ALL, &[LISTED]),
                    deny_if_ip(ALL, &[LISTED]),
                ])),
                &[LISTED],
                vec![AccessWarning::AdmitsNobody { denied_by: vec![1] }],
            ),
            (
                "policy lists more",
                Some(policy(vec![allow_if_ip(ALL, &[LISTED, OTHER])])),
                &[LISTED],
                vec![AccessWarning::WiderThanList {
                    extra: nets(&[OTHER]),
                    allowed_by: vec![0],
                }],
            ),
            (
                "policy lists less",
                Some(policy(vec![allow_if_ip(ALL, &[LISTED])])),
                &[LISTED, OTHER],
                vec![AccessWarning::NarrowerThanList {
                    not_admitted: nets(&[OTHER]),
                    denied_by: vec![],
                }],
            ),
            (
                "shape B lists less",
                Some(shape_b()),
                &[LISTED, OFFICE, OTHER],
                vec![AccessWarning::NarrowerThanList {
                    not_admitted: nets(&[OTHER]),
                    denied_by: vec![1],
                }],
            ),
            (
                "IPv6 entry, IPv4 policy",
                Some(policy(vec![allow_if_ip(ALL, &[LISTED])])),
                &[LISTED, "2001:db8::/32"],
                vec![AccessWarning::NarrowerThanList {
                    not_admitted: nets(&["2001:db8::/32"]),
                    denied_by: vec![],
                }],
            ),
            (
                "open policy",
                Some(policy(vec![allow(ALL)])),
                &[LISTED],
                vec![AccessWarning::WiderThanList {
                    extra: everyone_else.clone(),
                    allowed_by: vec![0],
                }],
            ),
            (
                "method allow",
                Some(method_scoped_allow()),
                &[LISTED],
                vec![AccessWarning::WiderOnSomePaths {
                    extra: everyone_else.clone(),
                    statements: vec![1],
                }],
            ),
            (
                "method deny",
                Some(method_scoped_deny()),
                &[LISTED],
                vec![AccessWarning::WiderOnSomePaths {
                    extra: everyone_else.clone(),
                    statements: vec![1],
                }],
            ),
            (
                "method allow for a listed network",
                Some(policy(vec![allow_if_ip(
                    "execute-api:/dev/GET/*",
                    &[LISTED],
                )])),
                &[LISTED],
                vec![AccessWarning::AdmitsNobody { denied_by: vec![] }],
            ),
            (
                "mixed principals",
                Some(mixed_principals()),
                &[LISTED],
                vec![AccessWarning::Unevaluable {
                    statement: 1,
                    reason: format!("applies only to principal {ROOT}"),
                }],
            ),
            ("invalid document", Some(json!([])), &[LISTED], vec![]),
        ];

        for (name, doc, allowlist, expected) in cases {
            let report = effective_access(doc.as_ref(), "dev", &api());
            let warnings = compare_with_allowlist(&report, &strings(allowlist));
            assert_eq!(warnings, expected, "{name}");
        }
    }

    #[test]
    fn warning_display() {
        let cases = [
            (
                AccessWarning::AllowlistIneffective {
                    statement: 1,
                    allowlist_statements: vec![0],
                },
                "statement 2 allows everyone, so the allowlist in statement 1 has no effect",
            ),
            (
                AccessWarning::AllowlistIneffective {
                    statement: 0,
                    allowlist_statements: vec![1, 2],
                },
                "statement 1 allows everyone, so the allowlists in statements 2 and 3 have no effect",
            ),
            (
                AccessWarning::AdmitsNobody { denied_by: vec![] },
                "the allowlist admits nobody to the whole stage: no statement allows the listed addresses on every method and path",
            ),
            (
                AccessWarning::AdmitsNobody { denied_by: vec![1] },
                "the allowlist admits nobody to the whole stage: the listed addresses are denied by statement 2",
            ),
            (
                AccessWarning::NarrowerThanList {
                    not_admitted: nets(&[OTHER]),
                    denied_by: vec![1],
                },
                "192.0.2.0/24 is listed but may not call the whole stage: denied by statement 2",
            ),
            (
                AccessWarning::NarrowerThanList {
                    not_admitted: nets(&[OTHER, "2001:db8::/32"]),
                    denied_by: vec![],
                },
                "192.0.2.0/24 and 2001:db8::/32 are listed but may not call the whole stage: no statement allows them on every method and path",
            ),
            (
                AccessWarning::WiderThanList {
                    extra: nets(&[OTHER]),
                    allowed_by: vec![0],
                },
                "192.0.2.0/24 is not listed but allowed by statement 1",
            ),
            (
                AccessWarning::WiderThanList {
                    extra: nets(&[OTHER, "10.0.0.0/8"]),
                    allowed_by: vec![0, 3, 4],
                },
                "192.0.2.0/24 and 10.0.0.0/8 are not listed but allowed by statements 1, 4 and 5",
            ),
            (
                AccessWarning::WiderOnSomePaths {
                    extra: nets(&[OTHER]),
                    statements: vec![1],
                },
                "192.0.2.0/24 is not listed but may call some methods or paths (statement 2 covers only part of the stage)",
            ),
            (
                AccessWarning::WiderOnSomePaths {
                    extra: nets(&[OTHER, VPC]),
                    statements: vec![1, 2],
                },
                "192.0.2.0/24 and 10.0.0.0/8 are not listed but may call some methods or paths (statements 2 and 3 cover only part of the stage)",
            ),
            (
                AccessWarning::Unevaluable {
                    statement: 2,
                    reason: "uses NotResource".to_string(),
                },
                "statement 3 could not be evaluated because it uses NotResource, so the real access may differ from the allowlist",
            ),
        ];
        for (warning, text) in cases {
            assert_eq!(warning.to_string(), text);
        }
    }

    #[test]
    fn cidr_values() {
        let valid = [
            ("192.0.2.5", "192.0.2.5/32"),
            ("192.0.2.77/24", "192.0.2.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.0.0.0/08", "10.0.0.0/8"),
            ("2001:DB8::1", "2001:db8::1/128"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("::/0", "::/0"),
        ];
        for (text, expected) in valid {
            assert_eq!(set(&[text]).to_cidrs(), nets(&[expected]), "{text}");
        }

        let invalid = [
            ("10.0.0.300", "is not an IP address or CIDR"),
            ("010.0.0.1", "is not an IP address or CIDR"),
            (" 10.0.0.0/8", "is not an IP address or CIDR"),
            ("10.0.0/8", "is not an IP address or CIDR"),
            ("host.example", "is not an IP address or CIDR"),
            ("", "is not an IP address or CIDR"),
            ("10.0.0.0/33", "has an invalid prefix length"),
            ("10.0.0.0/", "has an invalid prefix length"),
            ("10.0.0.0/+8", "has an invalid prefix length"),
            ("10.0.0.0/ 8", "has an invalid prefix length"),
            ("2001:db8::/129", "has an invalid prefix length"),
            (
                "::ffff:192.0.2.1",
                "is an IPv4-mapped IPv6 address, which ipgate cannot match",
            ),
        ];
        for (text, problem) in invalid {
            let error = AddressSet::from_cidrs([text]).unwrap_err();
            assert_eq!(error.problem, problem, "{text}");
            assert_eq!(error.to_string(), format!("'{text}' {problem}"));
        }
    }

    #[test]
    fn address_set_basics() {
        assert!(AddressSet::new().is_empty());
        assert!(AddressSet::everything().is_everything());
        assert_eq!(AddressSet::new().complement(), AddressSet::everything());
        assert!(AddressSet::everything().complement().is_empty());
        assert_eq!(
            AddressSet::everything().to_cidrs(),
            nets(&["0.0.0.0/0", "::/0"])
        );
        assert!(AddressSet::everything_v4().is_everything_v4());
        assert!(AddressSet::everything_v4().is_empty_v6());
        assert!(AddressSet::everything_v6().is_everything_v6());
        assert!(AddressSet::everything_v6().is_empty_v4());

        let everything = AddressSet::everything();
        for address in [
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            assert!(everything.contains(ip(address)), "{address}");
            assert!(!AddressSet::new().contains(ip(address)), "{address}");
        }

        let other = set(&[OTHER]);
        assert!(other.contains(ip("192.0.2.0")));
        assert!(other.contains(ip("192.0.2.255")));
        assert!(!other.contains(ip("192.0.1.255")));
        assert!(!other.contains(ip("192.0.3.0")));
        assert_eq!(other.complement().v4_only().to_cidrs().len(), 24);
        assert!(other.complement().is_everything_v6());
        assert!(other.is_subset(&set(&["192.0.0.0/16"])));
        assert!(!set(&["192.0.0.0/16"]).is_subset(&other));
    }

    #[test]
    fn address_set_merges_and_splits() {
        let adjacent = set(&["10.0.0.0/25", "10.0.0.128/25"]);
        assert_eq!(adjacent.to_cidrs(), nets(&["10.0.0.0/24"]));
        assert_eq!(adjacent.ranges_v4(), &[(0x0a00_0000, 0x0a00_00ff)]);

        let odd = set(&["10.0.0.1", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6"]);
        assert_eq!(odd.ranges_v4().len(), 1);
        assert_eq!(
            odd.to_cidrs(),
            nets(&["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"])
        );

        let overlapping = set(&["10.0.0.0/8", "10.1.0.0/16", "10.255.255.255"]);
        assert_eq!(overlapping.to_cidrs(), nets(&["10.0.0.0/8"]));

        let both = set(&["2001:db8::/33", "2001:db8:8000::/33", LISTED]);
        assert_eq!(both.to_cidrs(), nets(&[LISTED, "2001:db8::/32"]));
        assert_eq!(both.v6_only().to_cidrs(), nets(&["2001:db8::/32"]));
        assert_eq!(both.v4_only().to_cidrs(), nets(&[LISTED]));

        let top = set(&[
            "255.255.255.254/31",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]);
        assert_eq!(
            top.complement().complement(),
            top,
            "complement near the maximum address"
        );
    }

    #[test]
    fn address_set_counts() {
        assert_eq!(set(&[OTHER]).address_count_v4(), 256);
        assert_eq!(AddressSet::everything_v4().address_count_v4(), 1 << 32);
        assert_eq!(set(&["2001:db8::/64"]).address_count_v6(), 1 << 64);
        assert_eq!(AddressSet::everything_v6().address_count_v6(), u128::MAX);
        assert_eq!(set(&[OTHER, "10.0.0.1"]).address_count_v4(), 257);
        assert_eq!(set(&[OTHER]).address_count_v6(), 0);
    }

    /// A small xorshift64* generator, so the random tests repeat exactly.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    /// Draws a network, mostly inside 10.0.0.0/16 or 2001:db8::/112 so that networks overlap
    /// and touch, and now and then anywhere.
    fn random_network(rng: &mut Rng) -> IpNetwork {
        let anywhere = rng.below(10) == 0;
        if rng.below(4) == 0 {
            let address = if anywhere {
                u128::from(rng.next()) << 64 | u128::from(rng.next())
            } else {
                0x2001_0db8_u128 << 96 | u128::from(rng.below(1 << 16))
            };
            let prefix = if anywhere {
                rng.below(129)
            } else {
                112 + rng.below(17)
            };
            IpNetwork::new(IpAddr::V6(Ipv6Addr::from(address)), prefix as u8).unwrap()
        } else {
            let address = if anywhere {
                rng.next() as u32
            } else {
                0x0a00_0000 | rng.below(1 << 16) as u32
            };
            let prefix = if anywhere {
                rng.below(33)
            } else {
                16 + rng.below(17)
            };
            IpNetwork::new(IpAddr::V4(Ipv4Addr::from(address)), prefix as u8).unwrap()
        }
    }

    fn random_address(rng: &mut Rng) -> IpAddr {
        match rng.below(4) {
            0 => IpAddr::V6(Ipv6Addr::from(
                0x2001_0db8_u128 << 96 | u128::from(rng.below(1 << 16)),
            )),
            1 => IpAddr::V4(Ipv4Addr::from(rng.next() as u32)),
            _ => IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 16) as u32)),
        }
    }

    /// Returns the addresses at and next to every range boundary of the set.
    fn boundary_addresses(set: &AddressSet) -> Vec<IpAddr> {
        let mut addresses = Vec::new();
        for &(start, end) in set.ranges_v4() {
            for value in [
                start.checked_sub(1),
                Some(start),
                Some(end),
                end.checked_add(1),
            ] {
                addresses.extend(value.map(|v| IpAddr::V4(Ipv4Addr::from(v))));
            }
        }
        for &(start, end) in set.ranges_v6() {
            for value in [
                start.checked_sub(1),
                Some(start),
                Some(end),
                end.checked_add(1),
            ] {
                addresses.extend(value.map(|v| IpAddr::V6(Ipv6Addr::from(v))));
            }
        }
        addresses
    }

    fn assert_normalized(set: &AddressSet) {
        for pair in set.ranges_v4().windows(2) {
            assert!(pair[0].0 <= pair[0].1);
            assert!(u64::from(pair[0].1) + 1 < u64::from(pair[1].0), "{pair:?}");
        }
        for pair in set.ranges_v6().windows(2) {
            assert!(pair[0].0 <= pair[0].1);
            assert!(pair[0].1.checked_add(1).unwrap() < pair[1].0, "{pair:?}");
        }
    }

    fn assert_minimal_cover(set: &AddressSet) {
        let cidrs = set.to_cidrs();
        assert_eq!(AddressSet::from_networks(cidrs.iter().copied()), *set);
        for network in &cidrs {
            assert_eq!(network.ip(), network.network(), "{network} has host bits");
        }
        let total: u64 = cidrs
            .iter()
            .filter(|network| network.is_ipv4())
            .map(|network| 1u64 << (32 - network.prefix()))
            .sum();
        assert_eq!(total, set.address_count_v4());

        // Two sibling blocks side by side could have been one block.
        for pair in cidrs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if a.is_ipv4() != b.is_ipv4() || a.prefix() != b.prefix() || a.prefix() == 0 {
                continue;
            }
            let parent = IpNetwork::new(a.ip(), a.prefix() - 1).unwrap();
            assert!(
                !(parent.network() == a.ip() && parent.contains(b.ip())),
                "{a} and {b} should be one block"
            );
        }
    }

    #[test]
    fn address_set_random_operations() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..20 {
            let count = 100 + rng.below(300) as usize;
            let left_networks: Vec<IpNetwork> =
                (0..count).map(|_| random_network(&mut rng)).collect();
            let right_networks: Vec<IpNetwork> =
                (0..count).map(|_| random_network(&mut rng)).collect();
            let left = AddressSet::from_networks(left_networks.iter().copied());
            let right = AddressSet::from_networks(right_networks.iter().copied());

            let union = left.union(&right);
            let intersection = left.intersect(&right);
            let difference = left.difference(&right);
            let complement = left.complement();
            for set in [
                &left,
                &right,
                &union,
                &intersection,
                &difference,
                &complement,
            ] {
                assert_normalized(set);
                assert_minimal_cover(set);
            }
            assert_eq!(complement.complement(), left);
            assert_eq!(union, right.union(&left));
            assert_eq!(intersection, right.intersect(&left));
            assert!(intersection.is_subset(&left));
            assert!(left.is_subset(&union));

            let mut addresses: Vec<IpAddr> = (0..1000).map(|_| random_address(&mut rng)).collect();
            addresses.extend(boundary_addresses(&left));
            addresses.extend(boundary_addresses(&right));
            for address in addresses {
                let in_left = left_networks
                    .iter()
                    .any(|network| network.contains(address));
                let in_right = right_networks
                    .iter()
                    .any(|network| network.contains(address));
                let context = format!("round {round}, {address}");
                assert_eq!(left.contains(address), in_left, "{context}");
                assert_eq!(union.contains(address), in_left || in_right, "{context}");
                assert_eq!(
                    intersection.contains(address),
                    in_left && in_right,
                    "{context}"
                );
                assert_eq!(
                    difference.contains(address),
                    in_left && !in_right,
                    "{context}"
                );
                assert_eq!(complement.contains(address), !in_left, "{context}");
            }
        }
    }

    #[test]
    fn address_set_many_networks() {
        let mut rng = Rng(42);
        let networks: Vec<IpNetwork> = (0..5000).map(|_| random_network(&mut rng)).collect();
        let set = AddressSet::from_networks(networks.iter().copied());
        let cidrs = set.to_cidrs();
        assert_eq!(AddressSet::from_networks(cidrs), set);
        assert_eq!(set.difference(&set), AddressSet::new());
        assert_eq!(set.union(&set.complement()), AddressSet::everything());
    }
}
