//! `Resource` values of execute-api policy statements and the stages they cover.
//!
//! A request to a REST API is authorized against the resource
//! `arn:PARTITION:execute-api:REGION:ACCOUNT:API_ID/STAGE/METHOD/PATH`, where the root path
//! gives an empty `PATH` (`.../dev/GET/`). IAM matches each colon-separated ARN field on its
//! own, and `*` (any run of characters, `/` included) and `?` (one character) may appear in
//! any field but the service.

use std::collections::{BTreeSet, HashSet, VecDeque};

/// The known facts about the REST API a policy is attached to. Unknown parts match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiContext {
    pub region: Option<String>,
    pub account: Option<String>,
    pub api_id: Option<String>,
}

/// How much of one stage a resource pattern covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    None,
    /// Some methods or paths of the stage (`execute-api:/dev/GET/pets`).
    Partial,
    /// Every method and path of the stage (`execute-api:/*`, `execute-api:/dev/*`).
    Whole,
}

const SHORT_PREFIX: &str = "execute-api:";
const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Returns how much of `stage` the pattern covers, for short forms and full ARNs with wildcards.
pub fn stage_coverage(resource: &str, stage: &str, api: &ApiContext) -> Coverage {
    match resolve_path_pattern(resource, api) {
        Some(target) => path_coverage(&target, &StageSet::Exactly(stage)),
        None => Coverage::None,
    }
}

/// True when the pattern covers any part of a stage whose name is not `stage`.
pub fn covers_other_stage(resource: &str, stage: &str, api: &ApiContext) -> bool {
    match resolve_path_pattern(resource, api) {
        Some(target) => path_coverage(&target, &StageSet::AllBut(stage)) != Coverage::None,
        None => false,
    }
}

/// Expands `execute-api:/...` into `arn:aws:execute-api:REGION:ACCOUNT:API_ID/...` as AWS does
/// when it stores a policy; unknown parts become `*`. Full ARNs come back unchanged.
pub fn expand_resource(resource: &str, api: &ApiContext) -> String {
    let Some(path) = resource.strip_prefix(SHORT_PREFIX) else {
        return resource.to_string();
    };

    let region = api.region.as_deref().unwrap_or("*");
    let account = api.account.as_deref().unwrap_or("*");
    let api_id = api.api_id.as_deref().unwrap_or("*");
    let partition = partition_of(api.region.as_deref());
    let path = path.strip_prefix('/').unwrap_or(path);
    format!("arn:{partition}:execute-api:{region}:{account}:{api_id}/{path}")
}

/// The resource a new statement scoped to one stage gets: `execute-api:/STAGE/*`.
pub fn stage_resource(stage: &str) -> String {
    format!("execute-api:/{stage}/*")
}

/// Returns the ARN partition of a region, or `aws` when the region is unknown.
fn partition_of(region: Option<&str>) -> &'static str {
    match region {
        Some(region) if region.starts_with("cn-") => "aws-cn",
        Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    }
}

/// A resource pattern reduced to the part after the ARN's account field, with the API id the
/// requests of this API carry there.
struct PathTarget<'a> {
    /// Glob over `API_ID/STAGE/METHOD/PATH`, or over `/STAGE/METHOD/PATH` for short forms.
    glob: &'a str,
    /// Literal text requests carry before the stage name: `API_ID/` or `/`.
    prefix: String,
}

/// Checks the fixed ARN fields against `api` and returns the rest of the pattern; `None` when
/// the pattern cannot match any request of this API.
fn resolve_path_pattern<'a>(resource: &'a str, api: &ApiContext) -> Option<PathTarget<'a>> {
    if resource == "*" {
        return Some(PathTarget {
            glob: "*",
            prefix: "/".to_string(),
        });
    }
    if let Some(path) = resource.strip_prefix(SHORT_PREFIX) {
        return Some(PathTarget {
            glob: path,
            prefix: "/".to_string(),
        });
    }
    if !resource.starts_with("arn:") {
        return None;
    }

    let fields: Vec<&str> = resource.splitn(6, ':').collect();
    let field = |index: usize| -> &'a str {
        // NOTE: an ARN cut short after a field ending in `*` (`arn:aws:execute-api:*`) is read
        // as if every missing field were `*`. Other short ARNs match nothing.
        fields.get(index).copied().unwrap_or("*")
    };
    let last = fields.last().copied().unwrap_or_default();
    if fields.len() < 6 && !last.ends_with('*') {
        return None;
    }

    let service_matches = glob_matches(field(2), "execute-api");
    let partition_matches = PARTITIONS
        .iter()
        .any(|partition| glob_matches(field(1), partition));
    let region_matches = known_matches(field(3), api.region.as_deref());
    let account_matches = known_matches(field(4), api.account.as_deref());
    if field(0) != "arn"
        || !service_matches
        || !partition_matches
        || !region_matches
        || !account_matches
    {
        return None;
    }

    let glob = field(5);
    let api_id = match &api.api_id {
        Some(api_id) => api_id.clone(),
        None => sample_api_id(glob),
    };
    Some(PathTarget {
        glob,
        prefix: format!("{api_id}/"),
    })
}

/// True when a field pattern matches the known value; an unknown value matches anything.
fn known_matches(pattern: &str, known: Option<&str>) -> bool {
    match known {
        Some(value) => glob_matches(pattern, value),
        None => true,
    }
}

/// Returns an API id that the pattern's id part accepts. It stands in for an unknown id, so an
/// unknown id matches whatever the pattern names there.
fn sample_api_id(glob: &str) -> String {
    let id_part = glob.split('/').next().unwrap_or_default();
    let sample: String = id_part
        .chars()
        .filter(|&c| c != '*')
        .map(|c| if c == '?' { 'x' } else { c })
        .collect();
    if sample.is_empty() {
        "x".to_string()
    } else {
        sample
    }
}

/// True when the glob (`*` any run, `?` one character) matches all of `text`.
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let tokens = tokenize(pattern);
    let mut states = closure(&tokens, [0].into_iter().collect());
    for c in text.chars() {
        states = step(&tokens, &states, Some(c));
        if states.is_empty() {
            return false;
        }
    }
    states.contains(&tokens.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
}

fn tokenize(pattern: &str) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            other => Token::Literal(other),
        })
        .collect()
}

/// Adds the positions reachable by letting `*` match nothing.
fn closure(tokens: &[Token], mut states: BTreeSet<usize>) -> BTreeSet<usize> {
    let mut pending: Vec<usize> = states.iter().copied().collect();
    while let Some(position) = pending.pop() {
        if tokens.get(position) == Some(&Token::AnyRun) && states.insert(position + 1) {
            pending.push(position + 1);
        }
    }
    states
}

/// Advances the glob's positions by one character; `None` is a character that equals no
/// literal of the pattern.
fn step(tokens: &[Token], states: &BTreeSet<usize>, symbol: Option<char>) -> BTreeSet<usize> {
    let mut next = BTreeSet::new();
    for &position in states {
        match tokens.get(position) {
            Some(Token::AnyRun) => {
                next.insert(position);
            }
            Some(Token::AnyOne) => {
                next.insert(position + 1);
            }
            Some(Token::Literal(literal)) if Some(*literal) == symbol => {
                next.insert(position + 1);
            }
            _ => {}
        }
    }
    closure(tokens, next)
}

/// The stage names a coverage question is about.
enum StageSet<'a> {
    Exactly(&'a str),
    /// Every non-empty stage name except this one.
    AllBut(&'a str),
}

/// A position in a request resource that is read character by character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum RequestState {
    /// Inside the literal prefix, at this character.
    Prefix(usize),
    /// Inside the stage name, after this many characters equal to the named stage's.
    StageMatched(usize),
    /// Inside a stage name that already differs from the named stage.
    StageDiffers,
    /// After `STAGE/`, before the method's first character.
    MethodStart,
    Method,
    /// After `METHOD/`: any path, including the empty root path, completes a request.
    Path,
}

/// The request resources of the stages in `stages`, as a deterministic automaton.
struct RequestLanguage<'a> {
    prefix: Vec<char>,
    stage: Vec<char>,
    stages: &'a StageSet<'a>,
}

impl RequestLanguage<'_> {
    fn start(&self) -> RequestState {
        if self.prefix.is_empty() {
            RequestState::StageMatched(0)
        } else {
            RequestState::Prefix(0)
        }
    }

    fn next(&self, state: RequestState, symbol: Option<char>) -> Option<RequestState> {
        let slash = symbol == Some('/');
        match state {
            RequestState::Prefix(index) => {
                if symbol != Some(self.prefix[index]) {
                    return None;
                }
                if index + 1 < self.prefix.len() {
                    Some(RequestState::Prefix(index + 1))
                } else {
                    Some(RequestState::StageMatched(0))
                }
            }
            RequestState::StageMatched(matched) if slash => {
                let ends_here = match self.stages {
                    StageSet::Exactly(_) => matched == self.stage.len(),
                    StageSet::AllBut(_) => matched > 0 && matched < self.stage.len(),
                };
                ends_here.then_some(RequestState::MethodStart)
            }
            RequestState::StageMatched(matched) => {
                if symbol.is_some() && self.stage.get(matched).copied() == symbol {
                    Some(RequestState::StageMatched(matched + 1))
                } else {
                    match self.stages {
                        StageSet::Exactly(_) => None,
                        StageSet::AllBut(_) => Some(RequestState::StageDiffers),
                    }
                }
            }
            RequestState::StageDiffers if slash => Some(RequestState::MethodStart),
            RequestState::StageDiffers => Some(RequestState::StageDiffers),
            RequestState::MethodStart if slash => None,
            RequestState::Method if slash => Some(RequestState::Path),
            RequestState::MethodStart | RequestState::Method => Some(RequestState::Method),
            RequestState::Path => Some(RequestState::Path),
        }
    }
}

/// Decides how much of the stages' request resources the glob matches by exploring the product
/// of the request automaton and the glob's subset automaton. The alphabet is the characters
/// either side names plus one stand-in for every other character, so the search is exact.
fn path_coverage(target: &PathTarget<'_>, stages: &StageSet<'_>) -> Coverage {
    let stage = match stages {
        StageSet::Exactly(stage) | StageSet::AllBut(stage) => stage,
    };
    let language = RequestLanguage {
        prefix: target.prefix.chars().collect(),
        stage: stage.chars().collect(),
        stages,
    };
    let tokens = tokenize(target.glob);
    let alphabet = alphabet(&tokens, &language);

    let start = (
        language.start(),
        closure(&tokens, [0].into_iter().collect()),
    );
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([start]);
    let mut some_match = false;
    let mut some_miss = false;

    while let Some((state, globs)) = queue.pop_front() {
        if !seen.insert((state, globs.clone())) {
            continue;
        }
        if state == RequestState::Path {
            if globs.contains(&tokens.len()) {
                some_match = true;
            } else {
                some_miss = true;
            }
        }
        if globs.is_empty() {
            // Every live request state still reaches a complete request, which the glob misses.
            some_miss = true;
            continue;
        }
        for &symbol in &alphabet {
            if let Some(next_state) = language.next(state, symbol) {
                queue.push_back((next_state, step(&tokens, &globs, symbol)));
            }
        }
    }

    match (some_match, some_miss) {
        (true, false) => Coverage::Whole,
        (true, true) => Coverage::Partial,
        (false, _) => Coverage::None,
    }
}

fn alphabet(tokens: &[Token], language: &RequestLanguage<'_>) -> Vec<Option<char>> {
    let mut chars: BTreeSet<char> = language
        .prefix
        .iter()
        .chain(&language.stage)
        .copied()
        .collect();
    chars.insert('/');
    for token in tokens {
        if let Token::Literal(c) = token {
            chars.insert(*c);
        }
    }
    chars.into_iter().map(Some).chain([None]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> ApiContext {
        ApiContext {
            region: Some("eu-west-1".to_string()),
            account: Some("123456789012".to_string()),
            api_id: Some("abc".to_string()),
        }
    }

    #[test]
    fn coverage_short_forms() {
        let cases = [
            ("*", Coverage::Whole),
            ("execute-api:/*", Coverage::Whole),
            ("execute-api:*", Coverage::Whole),
            ("execute-api:/dev/*", Coverage::Whole),
            ("execute-api:/*/*", Coverage::Whole),
            ("execute-api:/*/*/*", Coverage::Whole),
            ("execute-api:/dev/*/*", Coverage::Whole),
            ("execute-api:/d?v/*", Coverage::Whole),
            ("execute-api:/de*/*", Coverage::Whole),
            ("execute-api:/dev*", Coverage::Whole),
            ("execute-api:/dev/GET/*", Coverage::Partial),
            ("execute-api:/dev/*/pets", Coverage::Partial),
            ("execute-api:/dev/GET/pets", Coverage::Partial),
            ("execute-api:/dev/GET/", Coverage::Partial),
            ("execute-api:/dev/*/*/*", Coverage::Partial),
            ("execute-api:/*/GET/*", Coverage::Partial),
            ("execute-api:/d?v/POST/*", Coverage::Partial),
            ("execute-api:/prod/*", Coverage::None),
            ("execute-api:/develop/*", Coverage::None),
            ("execute-api:/de/*", Coverage::None),
            ("execute-api:/dev", Coverage::None),
            ("execute-api:/dev/", Coverage::None),
            ("execute-api:/dev/GET", Coverage::None),
            ("execute-api:/d??v/*", Coverage::None),
            ("execute-api:dev/*", Coverage::None),
            ("", Coverage::None),
            ("arn:aws:s3:::bucket/*", Coverage::None),
            ("something else", Coverage::None),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                stage_coverage(resource, "dev", &api()),
                expected,
                "{resource}"
            );
        }
    }

    #[test]
    fn coverage_full_arns() {
        let cases = [
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:*/dev/*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:ab*",
                Coverage::Whole,
            ),
            ("arn:aws:execute-api:*:*:*", Coverage::Whole),
            ("arn:aws:execute-api:*:*:*/*", Coverage::Whole),
            ("arn:aws:execute-api:eu-*:1234*:a?c/*", Coverage::Whole),
            (
                "arn:*:execute-api:eu-west-1:123456789012:abc/*",
                Coverage::Whole,
            ),
            ("arn:aws:execute-api:*", Coverage::Whole),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/GET/*",
                Coverage::Partial,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/*/pets",
                Coverage::Partial,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/*/GET/*",
                Coverage::Partial,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:other/*",
                Coverage::None,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/prod/*",
                Coverage::None,
            ),
            (
                "arn:aws:execute-api:us-east-1:123456789012:abc/*",
                Coverage::None,
            ),
            (
                "arn:aws:execute-api:eu-west-1:999999999999:abc/*",
                Coverage::None,
            ),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc",
                Coverage::None,
            ),
            (
                "arn:aws:lambda:eu-west-1:123456789012:abc/*",
                Coverage::None,
            ),
            (
                "arn:other:execute-api:eu-west-1:123456789012:abc/*",
                Coverage::None,
            ),
            ("arn:aws:execute-api:eu-west-1", Coverage::None),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                stage_coverage(resource, "dev", &api()),
                expected,
                "{resource}"
            );
        }
    }

    #[test]
    fn coverage_other_partitions() {
        let china = ApiContext {
            region: Some("cn-north-1".to_string()),
            ..api()
        };
        let resource = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/dev/*";
        assert_eq!(stage_coverage(resource, "dev", &china), Coverage::Whole);

        let gov = ApiContext {
            region: Some("us-gov-west-1".to_string()),
            ..api()
        };
        let resource = "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc/dev/GET/*";
        assert_eq!(stage_coverage(resource, "dev", &gov), Coverage::Partial);
    }

    #[test]
    fn coverage_unknown_context() {
        let unknown = ApiContext::default();
        let cases = [
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:us-east-1:999999999999:zzz/dev/*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:us-east-1:999999999999:zzz/dev/GET/*",
                Coverage::Partial,
            ),
            (
                "arn:aws:execute-api:us-east-1:999999999999:zzz/prod/*",
                Coverage::None,
            ),
            (
                "arn:aws:execute-api:us-east-1:999999999999:ab*",
                Coverage::Whole,
            ),
            (
                "arn:aws:execute-api:us-east-1:999999999999:ab?/dev/*",
                Coverage::Whole,
            ),
            ("execute-api:/dev/*", Coverage::Whole),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                stage_coverage(resource, "dev", &unknown),
                expected,
                "{resource}"
            );
        }

        let region_only = ApiContext {
            region: Some("eu-west-1".to_string()),
            ..ApiContext::default()
        };
        let resource = "arn:aws:execute-api:us-east-1:999999999999:zzz/*";
        assert_eq!(
            stage_coverage(resource, "dev", &region_only),
            Coverage::None
        );
    }

    #[test]
    fn other_stage_coverage() {
        let cases = [
            ("execute-api:/*", true),
            ("execute-api:/dev/*", false),
            ("execute-api:/dev/GET/*", false),
            ("execute-api:/d?v/*", true),
            ("execute-api:/dev*", true),
            ("execute-api:/de*/*", true),
            ("execute-api:/prod/*", true),
            ("execute-api:/*/GET/*", true),
            (
                "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/*",
                false,
            ),
            ("arn:aws:execute-api:eu-west-1:123456789012:abc/*", true),
            ("arn:aws:execute-api:eu-west-1:123456789012:other/*", false),
            ("arn:aws:s3:::bucket", false),
        ];
        for (resource, expected) in cases {
            assert_eq!(
                covers_other_stage(resource, "dev", &api()),
                expected,
                "{resource}"
            );
        }
    }

    #[test]
    fn expand_short_forms() {
        let cases = [
            (
                "execute-api:/*",
                "arn:aws:execute-api:eu-west-1:123456789012:abc/*",
            ),
            (
                "execute-api:/dev/GET/pets",
                "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/GET/pets",
            ),
            (
                "execute-api:*",
                "arn:aws:execute-api:eu-west-1:123456789012:abc/*",
            ),
            (
                "arn:aws:execute-api:us-east-1:1:x/*",
                "arn:aws:execute-api:us-east-1:1:x/*",
            ),
            ("*", "*"),
        ];
        for (resource, expected) in cases {
            assert_eq!(expand_resource(resource, &api()), expected, "{resource}");
        }
    }

    #[test]
    fn expand_with_unknown_parts() {
        let unknown = ApiContext::default();
        assert_eq!(
            expand_resource("execute-api:/dev/*", &unknown),
            "arn:aws:execute-api:*:*:*/dev/*"
        );

        let china = ApiContext {
            region: Some("cn-northwest-1".to_string()),
            ..ApiContext::default()
        };
        assert_eq!(
            expand_resource("execute-api:/*", &china),
            "arn:aws-cn:execute-api:cn-northwest-1:*:*/*"
        );

        let gov = ApiContext {
            region: Some("us-gov-east-1".to_string()),
            ..ApiContext::default()
        };
        assert_eq!(
            expand_resource("execute-api:/*", &gov),
            "arn:aws-us-gov:execute-api:us-gov-east-1:*:*/*"
        );
    }

    #[test]
    fn expanded_form_keeps_coverage() {
        for resource in [
            "execute-api:/*",
            "execute-api:/dev/*",
            "execute-api:/dev/GET/*",
            "execute-api:/prod/*",
        ] {
            let expanded = expand_resource(resource, &api());
            assert_eq!(
                stage_coverage(&expanded, "dev", &api()),
                stage_coverage(resource, "dev", &api()),
                "{resource}"
            );
        }
    }

    #[test]
    fn glob_matching() {
        let cases = [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("*-west-?", "eu-west-1", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
        }
    }
}
