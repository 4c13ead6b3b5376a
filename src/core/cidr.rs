//! CIDR allowlist entries: strict parsing, canonical text and per-entry flags.
//!
//! An entry is one value of an `aws:SourceIp` condition, typed by a user or read from a
//! policy. Parsing is stricter than `ipnetwork`'s `FromStr`, so that each common mistake
//! (ports, brackets, octal-looking octets, host names, several addresses in one entry) gets
//! its own error with a hint, and a suggested fix where one is certain.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::IpNetwork;

/// One parsed allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrEntry {
    /// The network exactly as written, host bits included (`192.0.2.77/24`).
    pub network: IpNetwork,
    /// True when the text had no prefix length (`192.0.2.5` means `/32`).
    pub bare_address: bool,
}

impl CidrEntry {
    /// Canonical text: lower-case, compressed IPv6, always with a prefix (`2001:db8::1/128`).
    /// Host bits are kept, so `192.0.2.77/24` stays as it is.
    pub fn canonical(&self) -> String {
        format!("{}/{}", self.network.ip(), self.network.prefix())
    }

    /// The network this entry really covers, host bits cleared (`192.0.2.0/24`).
    pub fn covered_network(&self) -> IpNetwork {
        // `new` fails only for a prefix longer than the address, and this prefix comes from
        // a network that already exists.
        IpNetwork::new(self.network.network(), self.network.prefix())
            .expect("the prefix of an existing network is valid")
    }

    pub fn has_host_bits(&self) -> bool {
        self.network.ip() != self.network.network()
    }

    /// True for any `/0`, such as `0.0.0.0/0`, `::/0` or `10.0.0.0/0`.
    pub fn is_unrestricted(&self) -> bool {
        self.network.prefix() == 0
    }
}

/// Why an entry, or an `aws:SourceIp` value, was rejected.
///
/// `Display` names the value as written and gives a hint that fits the mistake. Variants with
/// a `suggestion` carry the canonical text of the corrected entry when the correction parses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("empty entry; type an IPv4 or IPv6 address or CIDR, for example 192.0.2.0/24")]
    Empty,

    #[error("'{input}': several addresses in one entry; add each address as its own entry")]
    SeveralAddresses { input: String, parts: Vec<String> },

    #[error("'{input}': spaces and separators are not allowed inside an entry; write {suggestion}")]
    StraySeparator { input: String, suggestion: String },

    #[error(
        "'{input}': octet {octet} has a leading zero, which is ambiguous because some tools \
         read it as octal; {}",
        fix("write", .suggestion.as_deref(), "write each octet in decimal without leading zeros")
    )]
    LeadingZeroOctet {
        input: String,
        octet: String,
        suggestion: Option<String>,
    },

    #[error("'{input}': octet {octet} is larger than 255; an IPv4 octet is a number from 0 to 255")]
    OctetOutOfRange { input: String, octet: String },

    #[error(
        "'{input}': an IPv4 address has 4 octets, not {count}; write all four, \
         for example 192.0.2.0/24"
    )]
    OctetCount { input: String, count: usize },

    #[error(
        "'{input}': an IPv4 octet is empty; write four decimal octets separated by single dots, \
         for example 192.0.2.1"
    )]
    EmptyOctet { input: String },

    #[error(
        "'{input}': a port is not part of a CIDR; {}",
        fix("use", .suggestion.as_deref(), "remove the port")
    )]
    Port {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': {} URL syntax, not part of a CIDR; {}",
        if *.port { "brackets and ports are" } else { "brackets are" },
        fix("write", .suggestion.as_deref(), "remove them")
    )]
    Brackets {
        input: String,
        port: bool,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': a URL is not an address; {}",
        fix("write", .suggestion.as_deref(), "write the IP address or CIDR of the host")
    )]
    Url {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': a host name is not an address; add the IP addresses or CIDR blocks it \
         resolves to"
    )]
    HostName { input: String },

    #[error(
        "'{input}': an address range is not a CIDR; {}",
        fix("write", .suggestion.as_deref(), "write it as one or more CIDR blocks")
    )]
    Range {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': wildcards are not part of a CIDR; {}",
        fix(
            "write",
            .suggestion.as_deref(),
            "use a prefix length instead, for example 192.0.2.0/24"
        )
    )]
    Wildcard {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': the zone id %{zone} names an interface on one host and is not part of an \
         address; {}",
        fix("write", .suggestion.as_deref(), "remove it")
    )]
    ZoneId {
        input: String,
        zone: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': an IPv4-mapped IPv6 address represents an IPv4 address, and IPv4 callers \
         may not match it; {}",
        fix("write the IPv4 form", .suggestion.as_deref(), "write the IPv4 form instead")
    )]
    Ipv4Mapped {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': the IPv4-compatible IPv6 form (::a.b.c.d) is deprecated by RFC 4291 and \
         names an IPv6 address, not the IPv4 one; {}",
        fix(
            "for an IPv4 network write",
            .suggestion.as_deref(),
            "write the IPv4 form for an IPv4 network"
        )
    )]
    Ipv4Compatible {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': not a valid IPv6 address; write up to eight groups of 1 to 4 hex digits \
         separated by ':', with '::' at most once, for example 2001:db8::1"
    )]
    InvalidIpv6 { input: String },

    #[error(
        "'{input}': not an IPv4 or IPv6 address or CIDR; write one address or CIDR, \
         for example 192.0.2.0/24 or 2001:db8::/32"
    )]
    NotAnAddress { input: String },

    #[error(
        "'{input}': the prefix length after '/' is missing; write one, such as /24, \
         or remove the '/' for a single address"
    )]
    MissingPrefix { input: String },

    #[error(
        "'{input}': prefix length '{prefix}' is not a number; write a decimal number \
         from 0 to {max}"
    )]
    PrefixNotNumber {
        input: String,
        prefix: String,
        max: u8,
    },

    #[error(
        "'{input}': prefix length '{prefix}' has a sign; {}",
        fix("write", .suggestion.as_deref(), "write a number without a sign")
    )]
    PrefixSign {
        input: String,
        prefix: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': prefix length '{prefix}' has a leading zero; {}",
        fix("write", .suggestion.as_deref(), "write it without leading zeros")
    )]
    PrefixLeadingZero {
        input: String,
        prefix: String,
        suggestion: Option<String>,
    },

    #[error(
        "'{input}': prefix length {prefix} is out of range; an {} prefix length is 0 to {max}",
        family(*.max)
    )]
    PrefixOutOfRange {
        input: String,
        prefix: String,
        max: u8,
    },

    #[error(
        "'{input}': a netmask is not a prefix length; {}",
        fix("write", .suggestion.as_deref(), "write the prefix length, for example /24")
    )]
    Netmask {
        input: String,
        suggestion: Option<String>,
    },

    #[error(
        "aws:SourceIp value {value}: the value must be a string or a list of strings, \
         but it is {found}"
    )]
    SourceIpNotStringOrList { value: String, found: &'static str },

    #[error(
        "aws:SourceIp list item {item} at index {index}: the value must be a string or a list \
         of strings, but this item is {found}; write each CIDR as a string in one flat list"
    )]
    SourceIpItemNotString {
        item: String,
        index: usize,
        found: &'static str,
    },
}

impl CidrError {
    /// Returns the canonical text of the corrected entry, when the error carries one.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            CidrError::StraySeparator { suggestion, .. } => Some(suggestion),
            CidrError::LeadingZeroOctet { suggestion, .. }
            | CidrError::Port { suggestion, .. }
            | CidrError::Brackets { suggestion, .. }
            | CidrError::Url { suggestion, .. }
            | CidrError::Range { suggestion, .. }
            | CidrError::Wildcard { suggestion, .. }
            | CidrError::ZoneId { suggestion, .. }
            | CidrError::Ipv4Mapped { suggestion, .. }
            | CidrError::Ipv4Compatible { suggestion, .. }
            | CidrError::PrefixSign { suggestion, .. }
            | CidrError::PrefixLeadingZero { suggestion, .. }
            | CidrError::Netmask { suggestion, .. } => suggestion.as_deref(),
            _ => None,
        }
    }
}

/// Builds the hint of an error: `verb` and the suggestion, or `fallback` without one.
fn fix(verb: &str, suggestion: Option<&str>, fallback: &str) -> String {
    match suggestion {
        Some(text) => format!("{verb} {text}"),
        None => fallback.to_owned(),
    }
}

fn family(max_prefix: u8) -> &'static str {
    if max_prefix == IPV4_BITS {
        "IPv4"
    } else {
        "IPv6"
    }
}

const IPV4_BITS: u8 = 32;
const IPV6_BITS: u8 = 128;

/// Parses one entry as typed by a user or found in a policy file.
///
/// Surrounding whitespace is trimmed. A bare address means `/32` (IPv4) or `/128` (IPv6).
///
/// # Errors
///
/// Returns the [`CidrError`] that fits the first mistake found in the text.
pub fn parse_entry(text: &str) -> Result<CidrEntry, CidrError> {
    let input = text.trim();
    if input.is_empty() {
        return Err(CidrError::Empty);
    }

    // Whole-entry mistakes come first, because they change how the rest must be read.
    if input.contains(is_separator) {
        return Err(separator_error(input));
    }
    if input.contains("://") {
        return Err(url_error(input));
    }
    if input.starts_with('[') {
        return Err(bracket_error(input));
    }
    if let Some(error) = range_error(input) {
        return Err(error);
    }
    if input.contains('*') {
        return Err(wildcard_error(input));
    }

    let (address_text, prefix_text) = match input.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (input, None),
    };
    if let Some((address, zone)) = address_text.split_once('%') {
        return Err(CidrError::ZoneId {
            input: input.to_owned(),
            zone: zone.to_owned(),
            suggestion: suggest(&with_prefix(address, prefix_text)),
        });
    }

    let address = parse_address(input, address_text, prefix_text)?;
    let prefix = parse_prefix(input, address, prefix_text)?;
    reject_embedded_ipv4(input, address_text, address, prefix)?;

    // `parse_prefix` has checked the prefix against the address family.
    let network = IpNetwork::new(address, prefix).expect("prefix is within the address width");
    Ok(CidrEntry {
        network,
        bare_address: prefix_text.is_none(),
    })
}

/// Returns the canonical text of `fixed` when it parses, so that a hint never proposes an
/// entry that would be rejected in turn.
fn suggest(fixed: &str) -> Option<String> {
    parse_entry(fixed).ok().map(|entry| entry.canonical())
}

fn with_prefix(address: &str, prefix_text: Option<&str>) -> String {
    match prefix_text {
        Some(prefix) => format!("{address}/{prefix}"),
        None => address.to_owned(),
    }
}

fn is_separator(c: char) -> bool {
    c == ',' || c == ';' || c.is_whitespace()
}

/// Distinguishes several addresses (`203.0.113.5, 198.51.100.2`) from one entry with stray spaces
/// or separators (`192.0.2.0 / 24`, `192.0.2.1,`).
fn separator_error(input: &str) -> CidrError {
    let parts: Vec<&str> = input
        .split(is_separator)
        .filter(|part| !part.is_empty())
        .collect();
    let one_entry_split = parts
        .iter()
        .any(|part| part.starts_with(['/', '-']) || part.ends_with(['/', '-']));
    if parts.len() >= 2 && !one_entry_split {
        return CidrError::SeveralAddresses {
            input: input.to_owned(),
            parts: parts.iter().map(|part| (*part).to_owned()).collect(),
        };
    }

    // The joined text names itself in its own error, which is the clearer report when it
    // has a second problem (a range written with spaces, for example).
    let joined = parts.concat();
    match parse_entry(&joined) {
        Ok(entry) => CidrError::StraySeparator {
            input: input.to_owned(),
            suggestion: entry.canonical(),
        },
        Err(error) => error,
    }
}

fn url_error(input: &str) -> CidrError {
    let after_scheme = input.split_once("://").map_or(input, |(_, rest)| rest);
    let authority = after_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);

    let address = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed
            .split_once(']')
            .map_or(bracketed, |(inside, _)| inside)
    } else {
        host.split_once(':').map_or(host, |(name, _port)| name)
    };
    CidrError::Url {
        input: input.to_owned(),
        suggestion: suggest(address),
    }
}

/// Handles `[2001:db8::7]`, `[2001:db8::7]:8443`, `[2001:db8::]/32` and `[2001:db8::/32]`.
fn bracket_error(input: &str) -> CidrError {
    let Some((inside, after)) = input[1..].split_once(']') else {
        return CidrError::NotAnAddress {
            input: input.to_owned(),
        };
    };

    let port = after.starts_with(':');
    let fixed = if after.starts_with('/') {
        format!("{inside}{after}")
    } else if port || after.is_empty() {
        inside.to_owned()
    } else {
        return CidrError::NotAnAddress {
            input: input.to_owned(),
        };
    };
    CidrError::Brackets {
        input: input.to_owned(),
        port,
        suggestion: suggest(&fixed),
    }
}

/// Recognizes `first-last` where both ends are addresses. Anything else goes on to the
/// address parser, because host names may contain '-'.
fn range_error(input: &str) -> Option<CidrError> {
    let (first, last) = input.split_once('-')?;
    let first: IpAddr = first.parse().ok()?;
    let last: IpAddr = last.parse().ok()?;
    Some(CidrError::Range {
        input: input.to_owned(),
        suggestion: range_as_block(first, last),
    })
}

/// Returns the one CIDR block that spans exactly `first..=last`, if there is one.
fn range_as_block(first: IpAddr, last: IpAddr) -> Option<String> {
    let (first_bits, last_bits, width) = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (
            u128::from(u32::from(a)),
            u128::from(u32::from(b)),
            IPV4_BITS,
        ),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), IPV6_BITS),
        _ => return None,
    };
    if last_bits < first_bits {
        return None;
    }

    // A block has a span of 2^k - 1 (all low bits set) and starts on a multiple of 2^k.
    let span = last_bits - first_bits;
    let span_is_low_bits = span & span.wrapping_add(1) == 0;
    if !span_is_low_bits || first_bits & span != 0 {
        return None;
    }
    let host_bits = u8::try_from(span.count_ones()).ok()?;
    suggest(&format!("{first}/{}", width - host_bits))
}

/// Suggests a block for trailing wildcard octets (`192.168.*.*` is `192.168.0.0/16`).
fn wildcard_error(input: &str) -> CidrError {
    let labels: Vec<&str> = input.split('.').collect();
    let fixed_count = labels.iter().take_while(|label| **label != "*").count();
    let trailing_wildcards = labels[fixed_count..].iter().all(|label| *label == "*");

    let suggestion = if labels.len() == 4 && trailing_wildcards {
        let mut octets: Vec<&str> = labels[..fixed_count].to_vec();
        octets.resize(4, "0");
        suggest(&format!("{}/{}", octets.join("."), fixed_count * 8))
    } else {
        None
    };
    CidrError::Wildcard {
        input: input.to_owned(),
        suggestion,
    }
}

/// Parses the address part (before any '/'). `input` is the whole entry, named in errors.
fn parse_address(
    input: &str,
    address_text: &str,
    prefix_text: Option<&str>,
) -> Result<IpAddr, CidrError> {
    if is_dotted_decimal(address_text) {
        return parse_ipv4(input, address_text, prefix_text).map(IpAddr::V4);
    }

    if let Some((host, port)) = address_text.split_once(':') {
        // IPv6 text has only hex digits before its first ':', so a dot or another letter
        // there means a host or IPv4 address followed by a port.
        let not_ipv6 = host
            .chars()
            .any(|c| c == '.' || (c.is_ascii_alphabetic() && !c.is_ascii_hexdigit()));
        if not_ipv6 {
            return Err(host_with_port_error(input, host, port, prefix_text));
        }
        return address_text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| CidrError::InvalidIpv6 {
                input: input.to_owned(),
            });
    }

    if looks_like_host_name(address_text) {
        return Err(CidrError::HostName {
            input: input.to_owned(),
        });
    }
    Err(CidrError::NotAnAddress {
        input: input.to_owned(),
    })
}

fn host_with_port_error(
    input: &str,
    host: &str,
    port: &str,
    prefix_text: Option<&str>,
) -> CidrError {
    if looks_like_host_name(host) {
        return CidrError::HostName {
            input: input.to_owned(),
        };
    }

    let port_is_number = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
    if is_dotted_decimal(host) && port_is_number {
        return CidrError::Port {
            input: input.to_owned(),
            suggestion: suggest(&with_prefix(host, prefix_text)),
        };
    }
    CidrError::NotAnAddress {
        input: input.to_owned(),
    }
}

fn is_dotted_decimal(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Parses four decimal octets. `std` rejects leading zeros too, but without saying which
/// octet is wrong or what the fix is.
fn parse_ipv4(input: &str, text: &str, prefix_text: Option<&str>) -> Result<Ipv4Addr, CidrError> {
    let labels: Vec<&str> = text.split('.').collect();
    if labels.iter().any(|label| label.is_empty()) {
        return Err(CidrError::EmptyOctet {
            input: input.to_owned(),
        });
    }
    if labels.len() != 4 {
        return Err(CidrError::OctetCount {
            input: input.to_owned(),
            count: labels.len(),
        });
    }

    let mut octets = [0u8; 4];
    let mut zero_padded: Option<&str> = None;
    for (octet, label) in octets.iter_mut().zip(&labels) {
        *octet = decimal_value(label)
            .and_then(|value| u8::try_from(value).ok())
            .ok_or_else(|| CidrError::OctetOutOfRange {
                input: input.to_owned(),
                octet: (*label).to_owned(),
            })?;
        if label.len() > 1 && label.starts_with('0') && zero_padded.is_none() {
            zero_padded = Some(label);
        }
    }

    let address = Ipv4Addr::from(octets);
    if let Some(octet) = zero_padded {
        return Err(CidrError::LeadingZeroOctet {
            input: input.to_owned(),
            octet: octet.to_owned(),
            suggestion: suggest(&with_prefix(&address.to_string(), prefix_text)),
        });
    }
    Ok(address)
}

/// Reads ASCII digits as a decimal number, ignoring leading zeros. Returns `None` above 999.
fn decimal_value(digits: &str) -> Option<u16> {
    let significant = digits.trim_start_matches('0');
    if significant.len() > 3 {
        return None;
    }
    if significant.is_empty() {
        return Some(0);
    }
    significant.parse().ok()
}

fn parse_prefix(input: &str, address: IpAddr, prefix_text: Option<&str>) -> Result<u8, CidrError> {
    let max = if address.is_ipv4() {
        IPV4_BITS
    } else {
        IPV6_BITS
    };
    let Some(text) = prefix_text else {
        return Ok(max);
    };

    if text.is_empty() {
        return Err(CidrError::MissingPrefix {
            input: input.to_owned(),
        });
    }
    if address.is_ipv4() && text.contains('.') {
        let suggestion = text
            .parse::<Ipv4Addr>()
            .ok()
            .and_then(|mask| ipnetwork::ipv4_mask_to_prefix(mask).ok())
            .and_then(|prefix| suggest(&format!("{address}/{prefix}")));
        return Err(CidrError::Netmask {
            input: input.to_owned(),
            suggestion,
        });
    }
    if let Some(unsigned) = text.strip_prefix(['+', '-']) {
        // Only '+' has an obvious fix, and a prefix cannot be negative.
        let suggestion = if text.starts_with('+') {
            suggest(&format!("{address}/{unsigned}"))
        } else {
            None
        };
        return Err(CidrError::PrefixSign {
            input: input.to_owned(),
            prefix: text.to_owned(),
            suggestion,
        });
    }
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(CidrError::PrefixNotNumber {
            input: input.to_owned(),
            prefix: text.to_owned(),
            max,
        });
    }

    let value = decimal_value(text);
    if text.len() > 1 && text.starts_with('0') {
        let suggestion = value.and_then(|value| suggest(&format!("{address}/{value}")));
        return Err(CidrError::PrefixLeadingZero {
            input: input.to_owned(),
            prefix: text.to_owned(),
            suggestion,
        });
    }
    match value.and_then(|value| u8::try_from(value).ok()) {
        Some(prefix) if prefix <= max => Ok(prefix),
        _ => Err(CidrError::PrefixOutOfRange {
            input: input.to_owned(),
            prefix: text.to_owned(),
            max,
        }),
    }
}

/// Rejects IPv6 entries that spell an IPv4 address: IPv4-mapped (`::ffff:192.0.2.1`, in any
/// notation) and the deprecated IPv4-compatible dotted form (`::192.0.2.1`).
fn reject_embedded_ipv4(
    input: &str,
    address_text: &str,
    address: IpAddr,
    prefix: u8,
) -> Result<(), CidrError> {
    let IpAddr::V6(address) = address else {
        return Ok(());
    };

    if let Some(ipv4) = address.to_ipv4_mapped() {
        return Err(CidrError::Ipv4Mapped {
            input: input.to_owned(),
            suggestion: ipv4_equivalent(ipv4, prefix),
        });
    }

    let upper_96_bits_zero = address.segments()[..6].iter().all(|segment| *segment == 0);
    if address_text.contains('.') && upper_96_bits_zero {
        let [.., a, b, c, d] = address.octets();
        return Err(CidrError::Ipv4Compatible {
            input: input.to_owned(),
            suggestion: ipv4_equivalent(Ipv4Addr::new(a, b, c, d), prefix),
        });
    }
    Ok(())
}

/// Returns the IPv4 block for an IPv6 block whose last 32 bits hold an IPv4 address. Returns
/// `None` when the IPv6 prefix is shorter than 96 bits, because that block spans more.
fn ipv4_equivalent(address: Ipv4Addr, ipv6_prefix: u8) -> Option<String> {
    let prefix = ipv6_prefix.checked_sub(IPV6_BITS - IPV4_BITS)?;
    suggest(&format!("{address}/{prefix}"))
}

/// Checks whether `text` is a host name as DNS allows it. The last label must start with a
/// letter, so that malformed IPv4 text such as `192.0.2.1a` is not taken for a name.
fn looks_like_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() || name.len() > 253 {
        return false;
    }

    let labels_valid = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    let last_label = name.rsplit('.').next().unwrap_or_default();
    labels_valid && last_label.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// A remark about one entry of a list, computed against the other entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryFlag {
    /// Same covered network as the earlier entry at this index.
    Duplicate { of: usize },
    /// Covered by the strictly larger network at this index.
    CoveredBy { index: usize },
    /// Host bits are set; the entry really covers this network.
    HostBitsSet { covers: IpNetwork },
    /// `/0`: no IPv4 (or IPv6) restriction at all.
    Unrestricted { ipv6: bool },
}

/// Flags every entry of a list; the result has one `Vec` per entry, in order.
///
/// Flags of one entry come in this order: `Unrestricted`, `Duplicate` (pointing at the first
/// entry with the same covered network), `CoveredBy` (pointing at the lowest index among all
/// strictly larger entries that cover it, earlier or later), `HostBitsSet`. Networks are
/// compared with host bits cleared. IPv4 and IPv6 never cover each other, and adjacent
/// networks are not merged or flagged.
///
/// Cost is O(n × p) hash lookups, where p (at most 33 for IPv4, 129 for IPv6) is the number
/// of distinct prefix lengths in the list.
pub fn flag_entries(entries: &[CidrEntry]) -> Vec<Vec<EntryFlag>> {
    let blocks: Vec<Block> = entries
        .iter()
        .map(|entry| Block::of(entry.covered_network()))
        .collect();

    let mut first_index: HashMap<Block, usize> = HashMap::with_capacity(blocks.len());
    for (index, block) in blocks.iter().enumerate() {
        first_index.entry(*block).or_insert(index);
    }

    // Only supernets at a prefix length that occurs in the list can be entries.
    let mut prefixes_v4: Vec<u8> = blocks
        .iter()
        .filter(|b| !b.ipv6)
        .map(|b| b.prefix)
        .collect();
    let mut prefixes_v6: Vec<u8> = blocks.iter().filter(|b| b.ipv6).map(|b| b.prefix).collect();
    for prefixes in [&mut prefixes_v4, &mut prefixes_v6] {
        prefixes.sort_unstable();
        prefixes.dedup();
    }

    let mut all_flags = Vec::with_capacity(entries.len());
    for (index, (entry, block)) in entries.iter().zip(&blocks).enumerate() {
        let mut flags = Vec::new();

        if entry.is_unrestricted() {
            flags.push(EntryFlag::Unrestricted { ipv6: block.ipv6 });
        }

        let first = first_index[block];
        if first < index {
            flags.push(EntryFlag::Duplicate { of: first });
        }

        let shorter_prefixes = if block.ipv6 {
            &prefixes_v6
        } else {
            &prefixes_v4
        };
        let covering = shorter_prefixes
            .iter()
            .take_while(|prefix| **prefix < block.prefix)
            .filter_map(|prefix| first_index.get(&block.supernet(*prefix)))
            .min();
        if let Some(covering) = covering {
            flags.push(EntryFlag::CoveredBy { index: *covering });
        }

        if entry.has_host_bits() {
            flags.push(EntryFlag::HostBitsSet {
                covers: entry.covered_network(),
            });
        }

        all_flags.push(flags);
    }
    all_flags
}

/// A covered network reduced to plain numbers, for hashing and supernet arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Block {
    ipv6: bool,
    bits: u128,
    prefix: u8,
}

impl Block {
    fn of(network: IpNetwork) -> Block {
        let (ipv6, bits) = match network.network() {
            IpAddr::V4(address) => (false, u128::from(u32::from(address))),
            IpAddr::V6(address) => (true, u128::from(address)),
        };
        Block {
            ipv6,
            bits,
            prefix: network.prefix(),
        }
    }

    /// Returns the block of length `prefix` (not longer than this one's) that contains this one.
    fn supernet(self, prefix: u8) -> Block {
        let width = if self.ipv6 { IPV6_BITS } else { IPV4_BITS };
        let host_bits = u32::from(width - prefix);
        let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
        Block {
            ipv6: self.ipv6,
            bits: self.bits & mask,
            prefix,
        }
    }
}

/// Reads the value of an `aws:SourceIp` condition: one string, or a list of strings kept in
/// order.
///
/// Returns the strings as written, unparsed, so that the caller can keep the original text.
/// An empty list gives an empty `Vec`. Anything else (a nested list, a number, an object, a
/// boolean, null) is rejected.
///
/// # Errors
///
/// [`CidrError::SourceIpNotStringOrList`] or [`CidrError::SourceIpItemNotString`], naming
/// what was found.
pub fn parse_json_value(value: &serde_json::Value) -> Result<Vec<String>, CidrError> {
    use serde_json::Value;

    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::String(text) => Ok(text.clone()),
                other => Err(CidrError::SourceIpItemNotString {
                    item: json_excerpt(other),
                    index,
                    found: json_kind(other),
                }),
            })
            .collect(),
        other => Err(CidrError::SourceIpNotStringOrList {
            value: json_excerpt(other),
            found: json_kind(other),
        }),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;

    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a nested list",
        Value::Object(_) => "an object",
    }
}

/// Returns the compact JSON text of `value`, cut to 60 characters so that an error stays short.
fn json_excerpt(value: &serde_json::Value) -> String {
    const MAX_CHARS: usize = 60;

    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn network(text: &str) -> IpNetwork {
        text.parse().unwrap()
    }

    fn entries(texts: &[&str]) -> Vec<CidrEntry> {
        texts
            .iter()
            .map(|text| parse_entry(text).unwrap())
            .collect()
    }

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    fn s(text: &str) -> String {
        text.to_owned()
    }

    struct Accepted {
        input: &'static str,
        canonical: &'static str,
        bare: bool,
        covers: &'static str,
        host_bits: bool,
        unrestricted: bool,
    }

    const fn ok(
        input: &'static str,
        canonical: &'static str,
        bare: bool,
        covers: &'static str,
        host_bits: bool,
        unrestricted: bool,
    ) -> Accepted {
        Accepted {
            input,
            canonical,
            bare,
            covers,
            host_bits,
            unrestricted,
        }
    }

    #[rustfmt::skip]
    const ACCEPTED: &[Accepted] = &[
        ok("192.0.2.77/24", "192.0.2.77/24", false, "192.0.2.0/24", true, false),
        ok("2001:db8:4::/40", "2001:db8:4::/40", false, "2001:db8::/40", true, false),
        ok("2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1/128", false, "2001:db8::1/128", false, false),
        ok("2001:db8::1/128", "2001:db8::1/128", false, "2001:db8::1/128", false, false),
        ok("2001:DB8::1", "2001:db8::1/128", true, "2001:db8::1/128", false, false),
        ok("192.0.2.5", "192.0.2.5/32", true, "192.0.2.5/32", false, false),
        ok("0.0.0.0/0", "0.0.0.0/0", false, "0.0.0.0/0", false, true),
        ok("::/0", "::/0", false, "::/0", false, true),
        ok("10.0.0.0/0", "10.0.0.0/0", false, "0.0.0.0/0", true, true),
        ok("2001:db8::/0", "2001:db8::/0", false, "::/0", true, true),
        ok("192.0.2.0/24", "192.0.2.0/24", false, "192.0.2.0/24", false, false),
        ok("198.51.100.128/25", "198.51.100.128/25", false, "198.51.100.128/25", false, false),
        ok("  192.0.2.0/24\t", "192.0.2.0/24", false, "192.0.2.0/24", false, false),
        ok("\u{a0}192.0.2.1\n", "192.0.2.1/32", true, "192.0.2.1/32", false, false),
        ok("0.0.0.0", "0.0.0.0/32", true, "0.0.0.0/32", false, false),
        ok("255.255.255.255/32", "255.255.255.255/32", false, "255.255.255.255/32", false, false),
        ok("192.0.2.0/8", "192.0.2.0/8", false, "192.0.0.0/8", true, false),
        ok("::", "::/128", true, "::/128", false, false),
        ok("::1", "::1/128", true, "::1/128", false, false),
        ok("1::", "1::/128", true, "1::/128", false, false),
        ok("fe80::1/64", "fe80::1/64", false, "fe80::/64", true, false),
        ok("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128", true, "2001:db8::1:0:0:1/128", false, false),
        ok("2001:db8:0:0::/32", "2001:db8::/32", false, "2001:db8::/32", false, false),
        ok("64:ff9b::192.0.2.1", "64:ff9b::c000:201/128", true, "64:ff9b::c000:201/128", false, false),
        ok("::2", "::2/128", true, "::2/128", false, false),
    ];

    #[test]
    fn parse_accepts_table() {
        for case in ACCEPTED {
            let entry = parse_entry(case.input)
                .unwrap_or_else(|error| panic!("{:?} rejected: {error}", case.input));
            assert_eq!(
                entry.canonical(),
                case.canonical,
                "canonical of {:?}",
                case.input
            );
            assert_eq!(
                entry.bare_address, case.bare,
                "bare_address of {:?}",
                case.input
            );
            assert_eq!(
                entry.covered_network(),
                network(case.covers),
                "covers of {:?}",
                case.input
            );
            assert_eq!(
                entry.has_host_bits(),
                case.host_bits,
                "host bits of {:?}",
                case.input
            );
            assert_eq!(
                entry.is_unrestricted(),
                case.unrestricted,
                "unrestricted {:?}",
                case.input
            );
        }
    }

    #[test]
    fn canonical_round_trips() {
        for case in ACCEPTED {
            let entry = parse_entry(case.input).unwrap();
            let again = parse_entry(&entry.canonical()).unwrap();
            assert_eq!(again.network, entry.network, "network of {:?}", case.input);
            assert_eq!(
                again.canonical(),
                entry.canonical(),
                "canonical of {:?}",
                case.input
            );
        }
    }

    #[test]
    fn canonical_spellings_agree() {
        let spellings = [
            "2001:0db8:0000:0000:0000:0000:0000:0001/128",
            "2001:db8::1/128",
            "2001:DB8::1",
        ];
        for spelling in spellings {
            assert_eq!(
                parse_entry(spelling).unwrap().canonical(),
                "2001:db8::1/128",
                "{spelling}"
            );
        }
    }

    #[test]
    fn parse_keeps_host_bits() {
        let entry = parse_entry("192.0.2.77/24").unwrap();
        assert_eq!(entry.network, network("192.0.2.77/24"));
        assert_eq!(entry.covered_network(), network("192.0.2.0/24"));
    }

    #[rustfmt::skip]
    fn rejected() -> Vec<(&'static str, CidrError)> {
        use CidrError::*;

        vec![
            ("", Empty),
            ("   \t", Empty),
            // Octets with leading zeros.
            ("192.0.2.010", LeadingZeroOctet { input: s("192.0.2.010"), octet: s("010"), suggestion: some("192.0.2.10/32") }),
            ("192.0.02.1/32", LeadingZeroOctet { input: s("192.0.02.1/32"), octet: s("02"), suggestion: some("192.0.2.1/32") }),
            ("192.0.02.1/33", LeadingZeroOctet { input: s("192.0.02.1/33"), octet: s("02"), suggestion: None }),
            ("010.0.0.1", LeadingZeroOctet { input: s("010.0.0.1"), octet: s("010"), suggestion: some("10.0.0.1/32") }),
            ("00.0.0.0/8", LeadingZeroOctet { input: s("00.0.0.0/8"), octet: s("00"), suggestion: some("0.0.0.0/8") }),
            // Other IPv4 syntax.
            ("192.0.2.256", OctetOutOfRange { input: s("192.0.2.256"), octet: s("256") }),
            ("192.0.2.0256", OctetOutOfRange { input: s("192.0.2.0256"), octet: s("0256") }),
            ("192.0.2.1000", OctetOutOfRange { input: s("192.0.2.1000"), octet: s("1000") }),
            ("192.0.2", OctetCount { input: s("192.0.2"), count: 3 }),
            ("10/8", OctetCount { input: s("10/8"), count: 1 }),
            ("1.2.3.4.5", OctetCount { input: s("1.2.3.4.5"), count: 5 }),
            ("192.0.2.", EmptyOctet { input: s("192.0.2.") }),
            ("192..2.1", EmptyOctet { input: s("192..2.1") }),
            // Ports.
            ("198.51.100.7:443", Port { input: s("198.51.100.7:443"), suggestion: some("198.51.100.7/32") }),
            ("198.51.100.0:443/24", Port { input: s("198.51.100.0:443/24"), suggestion: some("198.51.100.0/24") }),
            ("198.51.100.07:443", Port { input: s("198.51.100.07:443"), suggestion: None }),
            ("198.51.100.7:", NotAnAddress { input: s("198.51.100.7:") }),
            // Brackets.
            ("[2001:db8::7]", Brackets { input: s("[2001:db8::7]"), port: false, suggestion: some("2001:db8::7/128") }),
            ("[2001:db8::7]:8443", Brackets { input: s("[2001:db8::7]:8443"), port: true, suggestion: some("2001:db8::7/128") }),
            ("[2001:db8::]/32", Brackets { input: s("[2001:db8::]/32"), port: false, suggestion: some("2001:db8::/32") }),
            ("[2001:db8::/32]", Brackets { input: s("[2001:db8::/32]"), port: false, suggestion: some("2001:db8::/32") }),
            ("[192.0.2.1]", Brackets { input: s("[192.0.2.1]"), port: false, suggestion: some("192.0.2.1/32") }),
            ("[nonsense]", Brackets { input: s("[nonsense]"), port: false, suggestion: None }),
            ("[2001:db8::7", NotAnAddress { input: s("[2001:db8::7") }),
            ("[2001:db8::7]x", NotAnAddress { input: s("[2001:db8::7]x") }),
            // Several addresses, or separators inside one.
            ("203.0.113.5, 198.51.100.2", SeveralAddresses { input: s("203.0.113.5, 198.51.100.2"), parts: vec![s("203.0.113.5"), s("198.51.100.2")] }),
            ("203.0.113.5 198.51.100.2", SeveralAddresses { input: s("203.0.113.5 198.51.100.2"), parts: vec![s("203.0.113.5"), s("198.51.100.2")] }),
            ("203.0.113.5;198.51.100.2", SeveralAddresses { input: s("203.0.113.5;198.51.100.2"), parts: vec![s("203.0.113.5"), s("198.51.100.2")] }),
            ("2001:db8::1,2001:db8::2, 192.0.2.0/24", SeveralAddresses { input: s("2001:db8::1,2001:db8::2, 192.0.2.0/24"), parts: vec![s("2001:db8::1"), s("2001:db8::2"), s("192.0.2.0/24")] }),
            ("192.0.2.0 /24", StraySeparator { input: s("192.0.2.0 /24"), suggestion: s("192.0.2.0/24") }),
            ("2001:db8:: / 32", StraySeparator { input: s("2001:db8:: / 32"), suggestion: s("2001:db8::/32") }),
            ("192.0.2.1,", StraySeparator { input: s("192.0.2.1,"), suggestion: s("192.0.2.1/32") }),
            // Prefix lengths.
            ("192.0.2.0/33", PrefixOutOfRange { input: s("192.0.2.0/33"), prefix: s("33"), max: 32 }),
            ("2001:db8::/129", PrefixOutOfRange { input: s("2001:db8::/129"), prefix: s("129"), max: 128 }),
            ("192.0.2.0/256", PrefixOutOfRange { input: s("192.0.2.0/256"), prefix: s("256"), max: 32 }),
            ("192.0.2.0/4294967296", PrefixOutOfRange { input: s("192.0.2.0/4294967296"), prefix: s("4294967296"), max: 32 }),
            ("192.0.2.0/abc", PrefixNotNumber { input: s("192.0.2.0/abc"), prefix: s("abc"), max: 32 }),
            ("2001:db8::/x", PrefixNotNumber { input: s("2001:db8::/x"), prefix: s("x"), max: 128 }),
            ("192.0.2.0/24/8", PrefixNotNumber { input: s("192.0.2.0/24/8"), prefix: s("24/8"), max: 32 }),
            ("192.0.2.0/2.4", Netmask { input: s("192.0.2.0/2.4"), suggestion: None }),
            ("192.0.2.0/", MissingPrefix { input: s("192.0.2.0/") }),
            ("192.0.2.0/024", PrefixLeadingZero { input: s("192.0.2.0/024"), prefix: s("024"), suggestion: some("192.0.2.0/24") }),
            ("192.0.2.0/00", PrefixLeadingZero { input: s("192.0.2.0/00"), prefix: s("00"), suggestion: some("192.0.2.0/0") }),
            ("192.0.2.0/033", PrefixLeadingZero { input: s("192.0.2.0/033"), prefix: s("033"), suggestion: None }),
            ("2001:db8::/064", PrefixLeadingZero { input: s("2001:db8::/064"), prefix: s("064"), suggestion: some("2001:db8::/64") }),
            ("192.0.2.0/+24", PrefixSign { input: s("192.0.2.0/+24"), prefix: s("+24"), suggestion: some("192.0.2.0/24") }),
            ("192.0.2.0/-1", PrefixSign { input: s("192.0.2.0/-1"), prefix: s("-1"), suggestion: None }),
            ("192.0.2.0/+40", PrefixSign { input: s("192.0.2.0/+40"), prefix: s("+40"), suggestion: None }),
            ("192.0.2.0/255.255.255.0", Netmask { input: s("192.0.2.0/255.255.255.0"), suggestion: some("192.0.2.0/24") }),
            ("192.0.2.0/255.0.255.0", Netmask { input: s("192.0.2.0/255.0.255.0"), suggestion: None }),
            // IPv4 written as IPv6.
            ("::ffff:192.0.2.1", Ipv4Mapped { input: s("::ffff:192.0.2.1"), suggestion: some("192.0.2.1/32") }),
            ("::FFFF:c000:201", Ipv4Mapped { input: s("::FFFF:c000:201"), suggestion: some("192.0.2.1/32") }),
            ("::ffff:192.0.2.0/120", Ipv4Mapped { input: s("::ffff:192.0.2.0/120"), suggestion: some("192.0.2.0/24") }),
            ("::ffff:0:0/80", Ipv4Mapped { input: s("::ffff:0:0/80"), suggestion: None }),
            ("::192.0.2.1", Ipv4Compatible { input: s("::192.0.2.1"), suggestion: some("192.0.2.1/32") }),
            // Zone ids.
            ("fe80::1%eth0", ZoneId { input: s("fe80::1%eth0"), zone: s("eth0"), suggestion: some("fe80::1/128") }),
            ("fe80::1%eth0/64", ZoneId { input: s("fe80::1%eth0/64"), zone: s("eth0"), suggestion: some("fe80::1/64") }),
            ("fe80::1%", ZoneId { input: s("fe80::1%"), zone: s(""), suggestion: some("fe80::1/128") }),
            // Host names and URLs.
            ("example.com", HostName { input: s("example.com") }),
            ("example.com.", HostName { input: s("example.com.") }),
            ("localhost", HostName { input: s("localhost") }),
            ("api.example.com/32", HostName { input: s("api.example.com/32") }),
            ("example.com:443", HostName { input: s("example.com:443") }),
            ("localhost:8080", HostName { input: s("localhost:8080") }),
            ("my-host.example.com", HostName { input: s("my-host.example.com") }),
            ("https://192.0.2.1/", Url { input: s("https://192.0.2.1/"), suggestion: some("192.0.2.1/32") }),
            ("http://user@192.0.2.1:8080/path?q=1", Url { input: s("http://user@192.0.2.1:8080/path?q=1"), suggestion: some("192.0.2.1/32") }),
            ("http://[2001:db8::1]:8080/x", Url { input: s("http://[2001:db8::1]:8080/x"), suggestion: some("2001:db8::1/128") }),
            ("https://example.com", Url { input: s("https://example.com"), suggestion: None }),
            // Ranges and wildcards.
            ("192.0.2.0-192.0.2.255", Range { input: s("192.0.2.0-192.0.2.255"), suggestion: some("192.0.2.0/24") }),
            ("192.0.2.1-192.0.2.9", Range { input: s("192.0.2.1-192.0.2.9"), suggestion: None }),
            ("192.0.2.9-192.0.2.1", Range { input: s("192.0.2.9-192.0.2.1"), suggestion: None }),
            ("192.0.2.4-192.0.2.4", Range { input: s("192.0.2.4-192.0.2.4"), suggestion: some("192.0.2.4/32") }),
            ("192.0.2.4-192.0.2.11", Range { input: s("192.0.2.4-192.0.2.11"), suggestion: None }),
            ("0.0.0.0-255.255.255.255", Range { input: s("0.0.0.0-255.255.255.255"), suggestion: some("0.0.0.0/0") }),
            ("2001:db8::-2001:db8::ffff", Range { input: s("2001:db8::-2001:db8::ffff"), suggestion: some("2001:db8::/112") }),
            ("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", Range { input: s("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), suggestion: some("::/0") }),
            ("192.0.2.0-2001:db8::", Range { input: s("192.0.2.0-2001:db8::"), suggestion: None }),
            ("192.168.*.*", Wildcard { input: s("192.168.*.*"), suggestion: some("192.168.0.0/16") }),
            ("192.0.2.*", Wildcard { input: s("192.0.2.*"), suggestion: some("192.0.2.0/24") }),
            ("*.*.*.*", Wildcard { input: s("*.*.*.*"), suggestion: some("0.0.0.0/0") }),
            ("192.*.2.1", Wildcard { input: s("192.*.2.1"), suggestion: None }),
            ("*", Wildcard { input: s("*"), suggestion: None }),
            // Anything else.
            ("2001:db8::g", InvalidIpv6 { input: s("2001:db8::g") }),
            ("2001:db8:::1", InvalidIpv6 { input: s("2001:db8:::1") }),
            ("1:2:3:4:5:6:7:8:9", InvalidIpv6 { input: s("1:2:3:4:5:6:7:8:9") }),
            ("12345::1", InvalidIpv6 { input: s("12345::1") }),
            ("192.0.2.1a", NotAnAddress { input: s("192.0.2.1a") }),
            ("0x7f.0.0.1", NotAnAddress { input: s("0x7f.0.0.1") }),
            ("/24", NotAnAddress { input: s("/24") }),
            ("\u{ff11}92.0.2.1", NotAnAddress { input: s("\u{ff11}92.0.2.1") }),
            ("192.0.2.1@x", NotAnAddress { input: s("192.0.2.1@x") }),
        ]
    }

    #[test]
    fn parse_rejects_table() {
        for (input, expected) in rejected() {
            assert_eq!(parse_entry(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn errors_name_input() {
        for (input, expected) in rejected() {
            let message = expected.to_string();
            let trimmed = input.trim();
            if !trimmed.is_empty() {
                assert!(
                    message.contains(&format!("'{trimmed}'")),
                    "{input:?}: {message}"
                );
            }
        }
    }

    #[test]
    fn errors_carry_hints() {
        let cases: &[(&str, &[&str])] = &[
            ("", &["empty entry", "192.0.2.0/24"]),
            (
                "198.51.100.7:443",
                &["a port is not part of a CIDR; use 198.51.100.7/32"],
            ),
            (
                "198.51.100.07:443",
                &["a port is not part of a CIDR; remove the port"],
            ),
            (
                "[2001:db8::7]",
                &["brackets are URL syntax", "write 2001:db8::7/128"],
            ),
            (
                "[2001:db8::7]:8443",
                &["brackets and ports are URL syntax", "write 2001:db8::7/128"],
            ),
            (
                "203.0.113.5, 198.51.100.2",
                &["several addresses", "add each address as its own entry"],
            ),
            ("192.0.2.0 /24", &["write 192.0.2.0/24"]),
            ("example.com", &["a host name is not an address"]),
            (
                "192.0.2.010",
                &["octet 010", "ambiguous", "octal", "write 192.0.2.10/32"],
            ),
            (
                "192.0.02.1/32",
                &["octet 02", "ambiguous", "write 192.0.2.1/32"],
            ),
            ("192.0.02.1/33", &["without leading zeros"]),
            ("192.0.2.256", &["256", "0 to 255"]),
            ("192.0.2", &["not 3", "all four"]),
            ("192.0.2.0/33", &["33", "IPv4", "0 to 32"]),
            ("2001:db8::/129", &["129", "IPv6", "0 to 128"]),
            ("192.0.2.0/abc", &["'abc'", "0 to 32"]),
            ("192.0.2.0/", &["missing"]),
            ("192.0.2.0/024", &["leading zero", "write 192.0.2.0/24"]),
            ("192.0.2.0/+24", &["sign", "write 192.0.2.0/24"]),
            ("192.0.2.0/-1", &["sign", "without a sign"]),
            (
                "192.0.2.0/255.255.255.0",
                &["netmask", "write 192.0.2.0/24"],
            ),
            ("fe80::1%eth0", &["%eth0", "write fe80::1/128"]),
            (
                "::ffff:192.0.2.1",
                &["IPv4-mapped", "write the IPv4 form 192.0.2.1/32"],
            ),
            ("::192.0.2.1", &["deprecated", "192.0.2.1/32"]),
            ("https://example.com", &["URL", "IP address"]),
            ("192.0.2.0-192.0.2.255", &["range", "write 192.0.2.0/24"]),
            ("192.168.*.*", &["wildcard", "write 192.168.0.0/16"]),
            ("2001:db8::g", &["IPv6", "2001:db8::1"]),
            ("192.0.2.1a", &["not an IPv4 or IPv6 address"]),
        ];
        for (input, expected_parts) in cases {
            let message = parse_entry(input).unwrap_err().to_string();
            for part in *expected_parts {
                assert!(
                    message.contains(part),
                    "{input:?}: {message:?} lacks {part:?}"
                );
            }
        }
    }

    #[test]
    fn spaced_range_names_joined_text() {
        let expected = CidrError::Range {
            input: s("192.0.2.0-192.0.2.255"),
            suggestion: some("192.0.2.0/24"),
        };
        assert_eq!(parse_entry("192.0.2.0 - 192.0.2.255"), Err(expected));
    }

    #[test]
    fn suggestion_accessor() {
        let cases = [
            ("198.51.100.7:443", Some("198.51.100.7/32")),
            ("[2001:db8::7]:8443", Some("2001:db8::7/128")),
            ("192.0.2.1,", Some("192.0.2.1/32")),
            ("192.0.2.010", Some("192.0.2.10/32")),
            ("192.0.02.1/33", None),
            ("example.com", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_entry(input).unwrap_err().suggestion(),
                expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn suggestions_parse() {
        for (input, error) in rejected() {
            if let Some(suggestion) = error.suggestion() {
                let entry = parse_entry(suggestion)
                    .unwrap_or_else(|e| panic!("{input:?} suggests {suggestion:?}: {e}"));
                assert_eq!(entry.canonical(), suggestion, "{input:?}");
            }
        }
    }

    #[test]
    fn flags_brief_list() {
        let list = entries(&[
            "192.0.2.0/24",
            "192.0.2.34/32",
            "192.0.2.0/24",
            "198.51.100.0/25",
            "198.51.100.128/25",
        ]);
        let expected = vec![
            vec![],
            vec![EntryFlag::CoveredBy { index: 0 }],
            vec![EntryFlag::Duplicate { of: 0 }],
            vec![],
            vec![],
        ];
        assert_eq!(flag_entries(&list), expected);
    }

    #[test]
    fn flags_table() {
        use EntryFlag::*;

        let cases: Vec<(&[&str], Vec<Vec<EntryFlag>>)> = vec![
            (&[], vec![]),
            (&["192.0.2.0/24"], vec![vec![]]),
            (
                &["192.0.2.0/24", "192.0.2.77/24"],
                vec![
                    vec![],
                    vec![
                        Duplicate { of: 0 },
                        HostBitsSet {
                            covers: network("192.0.2.0/24"),
                        },
                    ],
                ],
            ),
            (
                &["192.0.2.77/24", "192.0.2.0/24"],
                vec![
                    vec![HostBitsSet {
                        covers: network("192.0.2.0/24"),
                    }],
                    vec![Duplicate { of: 0 }],
                ],
            ),
            (
                &["2001:db8:4::/40", "2001:db8::/32"],
                vec![
                    vec![
                        CoveredBy { index: 1 },
                        HostBitsSet {
                            covers: network("2001:db8::/40"),
                        },
                    ],
                    vec![],
                ],
            ),
            (
                &["2001:db8::1", "2001:DB8:0::1/128", "2001:0db8::0001"],
                vec![vec![], vec![Duplicate { of: 0 }], vec![Duplicate { of: 0 }]],
            ),
            (
                &[
                    "0.0.0.0/0",
                    "::/0",
                    "10.0.0.0/0",
                    "192.0.2.0/24",
                    "2001:db8::/32",
                ],
                vec![
                    vec![Unrestricted { ipv6: false }],
                    vec![Unrestricted { ipv6: true }],
                    vec![
                        Unrestricted { ipv6: false },
                        Duplicate { of: 0 },
                        HostBitsSet {
                            covers: network("0.0.0.0/0"),
                        },
                    ],
                    vec![CoveredBy { index: 0 }],
                    vec![CoveredBy { index: 1 }],
                ],
            ),
            // IPv4 never covers IPv6 and the other way round.
            (
                &["0.0.0.0/0", "2001:db8::1"],
                vec![vec![Unrestricted { ipv6: false }], vec![]],
            ),
            (
                &["::/0", "192.0.2.1"],
                vec![vec![Unrestricted { ipv6: true }], vec![]],
            ),
            (&["::/96", "0.0.0.1"], vec![vec![], vec![]]),
            // A later, larger entry covers too; the lowest index among covering entries wins.
            (
                &[
                    "192.0.2.34/32",
                    "10.0.0.0/8",
                    "192.0.2.0/24",
                    "192.0.0.0/16",
                ],
                vec![
                    vec![CoveredBy { index: 2 }],
                    vec![],
                    vec![CoveredBy { index: 3 }],
                    vec![],
                ],
            ),
            (
                &["192.0.0.0/16", "192.0.2.0/24", "192.0.2.1"],
                vec![
                    vec![],
                    vec![CoveredBy { index: 0 }],
                    vec![CoveredBy { index: 0 }],
                ],
            ),
            (
                &["192.0.2.0/24", "192.0.2.1", "192.0.2.1"],
                vec![
                    vec![],
                    vec![CoveredBy { index: 0 }],
                    vec![Duplicate { of: 1 }, CoveredBy { index: 0 }],
                ],
            ),
            // Adjacent halves are neither merged nor flagged, but a whole covers both.
            (&["192.0.2.0/25", "192.0.2.128/25"], vec![vec![], vec![]]),
            (
                &["192.0.2.0/25", "192.0.2.128/25", "192.0.2.0/24"],
                vec![
                    vec![CoveredBy { index: 2 }],
                    vec![CoveredBy { index: 2 }],
                    vec![],
                ],
            ),
            // Sibling networks of the same size do not cover each other.
            (&["192.0.2.0/24", "192.0.3.0/24"], vec![vec![], vec![]]),
            (
                &["192.0.2.1", "0.0.0.0/0"],
                vec![
                    vec![CoveredBy { index: 1 }],
                    vec![Unrestricted { ipv6: false }],
                ],
            ),
            (
                &["2001:db8::1", "::/0", "2001:db8::/127"],
                vec![
                    vec![CoveredBy { index: 1 }],
                    vec![Unrestricted { ipv6: true }],
                    vec![CoveredBy { index: 1 }],
                ],
            ),
        ];
        for (texts, expected) in cases {
            assert_eq!(flag_entries(&entries(texts)), expected, "{texts:?}");
        }
    }

    /// Straightforward O(n^2) statement of the flag rules, to check the fast version against.
    fn flags_by_pairs(list: &[CidrEntry]) -> Vec<Vec<EntryFlag>> {
        let covered: Vec<IpNetwork> = list.iter().map(CidrEntry::covered_network).collect();
        let covers = |outer: IpNetwork, inner: IpNetwork| {
            outer.is_ipv4() == inner.is_ipv4()
                && outer.prefix() < inner.prefix()
                && outer.contains(inner.network())
        };

        let mut all = Vec::new();
        for (index, entry) in list.iter().enumerate() {
            let mut flags = Vec::new();
            if entry.is_unrestricted() {
                flags.push(EntryFlag::Unrestricted {
                    ipv6: entry.network.is_ipv6(),
                });
            }
            if let Some(of) = (0..index).find(|other| covered[*other] == covered[index]) {
                flags.push(EntryFlag::Duplicate { of });
            }
            if let Some(other) =
                (0..list.len()).find(|other| covers(covered[*other], covered[index]))
            {
                flags.push(EntryFlag::CoveredBy { index: other });
            }
            if entry.has_host_bits() {
                flags.push(EntryFlag::HostBitsSet {
                    covers: covered[index],
                });
            }
            all.push(flags);
        }
        all
    }

    /// Entries drawn from a small address space, so that duplicates and covers are frequent.
    fn generated_entries(count: usize, mut seed: u64) -> Vec<CidrEntry> {
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        (0..count)
            .map(|_| {
                let text = if next() % 3 == 0 {
                    format!("2001:db8::{:x}/{}", next() % 16, 124 + next() % 5)
                } else {
                    format!("10.0.{}.{}/{}", next() % 4, next() % 256, 20 + next() % 13)
                };
                parse_entry(&text).unwrap()
            })
            .collect()
    }

    #[test]
    fn flags_match_pairwise() {
        for seed in 1..=20 {
            let list = generated_entries(300, seed);
            assert_eq!(flag_entries(&list), flags_by_pairs(&list), "seed {seed}");
        }
    }

    #[test]
    fn flags_large_list() {
        let mut texts: Vec<String> = (0..5000)
            .map(|n| format!("10.{}.{}.{}", n / 65536, (n / 256) % 256, n % 256))
            .collect();
        texts.push("10.0.0.0/8".to_owned());
        texts.push("10.0.0.7".to_owned());
        let list: Vec<CidrEntry> = texts
            .iter()
            .map(|text| parse_entry(text).unwrap())
            .collect();

        let flags = flag_entries(&list);
        assert_eq!(flags.len(), 5002);
        assert!(
            flags[..5000]
                .iter()
                .all(|f| *f == vec![EntryFlag::CoveredBy { index: 5000 }])
        );
        assert_eq!(flags[5000], vec![]);
        assert_eq!(
            flags[5001],
            vec![
                EntryFlag::Duplicate { of: 7 },
                EntryFlag::CoveredBy { index: 5000 }
            ]
        );
    }

    #[test]
    fn json_value_table() {
        use CidrError::*;

        let cases = vec![
            (json!("192.0.2.0/24"), Ok(vec![s("192.0.2.0/24")])),
            (json!(" 192.0.2.0/24 "), Ok(vec![s(" 192.0.2.0/24 ")])),
            (
                json!(["192.0.2.1/32", " 2001:DB8::1 ", "not an address"]),
                Ok(vec![
                    s("192.0.2.1/32"),
                    s(" 2001:DB8::1 "),
                    s("not an address"),
                ]),
            ),
            (json!([]), Ok(vec![])),
            (
                json!([["192.0.2.1/32", "192.0.2.5/32"]]),
                Err(SourceIpItemNotString {
                    item: s(r#"["192.0.2.1/32","192.0.2.5/32"]"#),
                    index: 0,
                    found: "a nested list",
                }),
            ),
            (
                json!(["192.0.2.1/32", 443]),
                Err(SourceIpItemNotString {
                    item: s("443"),
                    index: 1,
                    found: "a number",
                }),
            ),
            (
                json!(["192.0.2.1/32", null]),
                Err(SourceIpItemNotString {
                    item: s("null"),
                    index: 1,
                    found: "null",
                }),
            ),
            (
                json!([{"cidr": "192.0.2.1/32"}]),
                Err(SourceIpItemNotString {
                    item: s(r#"{"cidr":"192.0.2.1/32"}"#),
                    index: 0,
                    found: "an object",
                }),
            ),
            (
                json!(443),
                Err(SourceIpNotStringOrList {
                    value: s("443"),
                    found: "a number",
                }),
            ),
            (
                json!(true),
                Err(SourceIpNotStringOrList {
                    value: s("true"),
                    found: "a boolean",
                }),
            ),
            (
                json!(null),
                Err(SourceIpNotStringOrList {
                    value: s("null"),
                    found: "null",
                }),
            ),
            (
                json!({"aws:SourceIp": "192.0.2.1"}),
                Err(SourceIpNotStringOrList {
                    value: s(r#"{"aws:SourceIp":"192.0.2.1"}"#),
                    found: "an object",
                }),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_json_value(&value), expected, "{value}");
        }
    }

    #[test]
    fn json_errors_explain() {
        let nested = json!([["192.0.2.1/32", "192.0.2.5/32"]]);
        let message = parse_json_value(&nested).unwrap_err().to_string();
        assert!(message.contains("nested list"), "{message}");
        assert!(
            message.contains("must be a string or a list of strings"),
            "{message}"
        );
        assert!(
            message.contains(r#"["192.0.2.1/32","192.0.2.5/32"]"#),
            "{message}"
        );

        let number = parse_json_value(&json!(443)).unwrap_err().to_string();
        assert!(number.contains("443"), "{number}");
        assert!(number.contains("a number"), "{number}");
        assert!(
            number.contains("must be a string or a list of strings"),
            "{number}"
        );
    }

    #[test]
    fn json_excerpt_truncates() {
        let long = json!({ "key": "x".repeat(200) });
        let message = parse_json_value(&long).unwrap_err();
        let CidrError::SourceIpNotStringOrList { value, .. } = message else {
            panic!("unexpected error {message:?}");
        };
        assert_eq!(value.chars().count(), 60);
        assert!(value.starts_with(r#"{"key":"xxx"#), "{value}");
        assert!(value.ends_with("..."), "{value}");
    }
}
