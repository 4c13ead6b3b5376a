//! JSON text as users write it: strict parsing with positions, and edits that keep formatting.
//!
//! serde_json parses the text. A small scanner of our own walks the same grammar to find what
//! serde does not report. It records the byte spans of objects, keys and values that an edit
//! needs, and it names common mistakes such as comments, trailing commas and single quotes so
//! a user can fix them.

use serde_json::{Map, Value};

/// A JSON syntax error with a 1-based position and a cause a user can act on
/// ("trailing comma", "comments are not allowed in JSON", "byte-order mark").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {cause}")]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub cause: String,
}

const BOM_CAUSE: &str =
    "the file starts with a byte-order mark (bytes EF BB BF); save it as UTF-8 without BOM";
const COMMENT_CAUSE: &str = "comments are not allowed in JSON";
const SINGLE_QUOTE_CAUSE: &str =
    "strings and keys must be in double quotes (\"), not single quotes";
const NON_FINITE_CAUSE: &str = "NaN and Infinity are not valid JSON numbers";

/// Maximum nesting of arrays and objects: serde_json 1.0 rejects the 128th level.
const MAX_DEPTH: usize = 127;

/// Parses text as strictly as Python's `json.loads`, which Chalice uses.
///
/// NaN and Infinity are rejected although `json.loads` accepts them, because RFC 8259 JSON
/// has no such numbers. serde_json also rejects numbers beyond the `f64` range, unpaired
/// surrogate escapes and nesting deeper than 127 levels, all of which `json.loads` accepts
/// (nesting up to Python's recursion limit).
pub fn parse_strict(text: &str) -> Result<Value, SyntaxError> {
    if text.starts_with('\u{feff}') {
        return Err(SyntaxError {
            line: 1,
            column: 1,
            cause: BOM_CAUSE.to_string(),
        });
    }

    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(error) => Err(explain_error(text, &error)),
    }
}

/// Returns `"\r\n"` when the text's first line ends with CRLF, otherwise `"\n"`.
pub fn detect_line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(index) if text[..index].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// Sets `"key": "value"` inside the object at `path` (for example `["stages", "dev"]`), editing
/// only that span of text: key order, indentation and line endings stay as they were.
///
/// An existing `key` gets its value replaced, whatever its type. A missing `key` becomes the
/// last member of its object, indented like its siblings. Objects missing along `path` are
/// created the same way. Fails when the text is not valid JSON or when `path` runs through a
/// value that is not an object.
pub fn set_string_key(
    text: &str,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, SyntaxError> {
    let original = parse_strict(text)?;
    let root = scan(text).map_err(|error| error.into_syntax_error(text))?;
    let layout = Layout::detect(text, &root);

    let edited = edit(text, &root, &layout, path, key, value)?;

    verify_edit(&original, &edited, path, key, value)?;
    Ok(edited)
}

fn edit(
    text: &str,
    root: &Node,
    layout: &Layout,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<String, SyntaxError> {
    let mut object = root;
    let mut members = object_members(text, root, "the top-level value", key)?;

    for (depth, segment) in path.iter().enumerate() {
        let Some(member) = find_member(members, segment) else {
            // Objects from here on are missing: create them together with the key.
            let mut names: Vec<&str> = path[depth..].to_vec();
            names.push(key);
            return Ok(insert_member(text, object, members, layout, &names, value));
        };

        let described = format!("\"{}\"", path[..=depth].join("."));
        members = object_members(text, &member.value, &described, key)?;
        object = &member.value;
    }

    match find_member(members, key) {
        Some(member) => Ok(splice(
            text,
            member.value.start,
            member.value.end,
            &json_string(value),
        )),
        None => Ok(insert_member(text, object, members, layout, &[key], value)),
    }
}

fn object_members<'n>(
    text: &str,
    node: &'n Node,
    described: &str,
    key: &str,
) -> Result<&'n [Member], SyntaxError> {
    match &node.kind {
        NodeKind::Object(members) => Ok(members),
        other => Err(SyntaxError::at(
            text,
            node.start,
            format!(
                "cannot set \"{key}\": {described} is {}, not an object",
                other.described()
            ),
        )),
    }
}

/// Finds the member that takes effect: with duplicate keys, JSON parsers keep the last one.
fn find_member<'n>(members: &'n [Member], key: &str) -> Option<&'n Member> {
    members.iter().rev().find(|member| member.key == key)
}

/// Inserts `"names[0]": {"names[1]": ... "value"}` as the last member of `object`.
fn insert_member(
    text: &str,
    object: &Node,
    members: &[Member],
    layout: &Layout,
    names: &[&str],
    value: &str,
) -> String {
    let Some(last) = members.last() else {
        return fill_empty_object(text, object, layout, names, value);
    };

    // The whitespace before the last member carries the object's own line ending and
    // indentation, or its spacing when the object is on one line.
    let lead = &text[last.lead_start..last.key_start];
    let (separator, indent, multiline) = match lead.rsplit_once('\n') {
        Some((before, indent)) => {
            // Blank lines before the last member are not repeated.
            let line_ending = if before.ends_with('\r') { "\r\n" } else { "\n" };
            (format!("{line_ending}{indent}"), indent, true)
        }
        // A sole member follows `{`, which often has no space after it where a comma has one,
        // so the file's usual spacing after a comma is used.
        None if members.len() == 1 => (layout.inline_separator.clone(), "", false),
        None => (lead.to_string(), "", false),
    };
    let colon = member_colon(text, last).unwrap_or(&layout.colon);

    let style = MemberStyle {
        layout,
        colon,
        multiline,
    };
    let member = style.render(names, value, indent);
    splice(
        text,
        last.value.end,
        last.value.end,
        &format!(",{separator}{member}"),
    )
}

/// Replaces the inside of an empty object (`{}`, or only whitespace) with its first member.
fn fill_empty_object(
    text: &str,
    object: &Node,
    layout: &Layout,
    names: &[&str],
    value: &str,
) -> String {
    let style = MemberStyle {
        layout,
        colon: &layout.colon,
        multiline: layout.multiline,
    };
    let inner_start = object.start + 1;
    let inner_end = object.end - 1;

    if !layout.multiline {
        return splice(
            text,
            inner_start,
            inner_end,
            &style.render(names, value, ""),
        );
    }

    let parent_indent = line_indent(text, object.start);
    let indent = format!("{parent_indent}{}", layout.indent_unit);
    let member = style.render(names, value, &indent);
    let eol = layout.line_ending;
    splice(
        text,
        inner_start,
        inner_end,
        &format!("{eol}{indent}{member}{eol}{parent_indent}"),
    )
}

/// Returns the text between a member's key and its value (`": "`), unless it spans lines.
fn member_colon<'t>(text: &'t str, member: &Member) -> Option<&'t str> {
    let colon = &text[member.key_end..member.value.start];
    (!colon.contains('\n')).then_some(colon)
}

/// Formatting of new members: the file's separators, and one line or one member a line.
struct MemberStyle<'a> {
    layout: &'a Layout,
    colon: &'a str,
    multiline: bool,
}

impl MemberStyle<'_> {
    /// Renders `"names[0]": ...` for a member whose key starts after `indent`. Every name but
    /// the last opens a nested object.
    fn render(&self, names: &[&str], value: &str, indent: &str) -> String {
        let Some((name, rest)) = names.split_first() else {
            return json_string(value);
        };
        let head = format!("{}{}", json_string(name), self.colon);
        if rest.is_empty() {
            return format!("{head}{}", json_string(value));
        }

        if !self.multiline {
            return format!("{head}{{{}}}", self.render(rest, value, indent));
        }
        let inner_indent = format!("{indent}{}", self.layout.indent_unit);
        let inner = self.render(rest, value, &inner_indent);
        let eol = self.layout.line_ending;
        format!("{head}{{{eol}{inner_indent}{inner}{eol}{indent}}}")
    }
}

/// Formatting conventions read from the whole file, for members that have no siblings to copy.
struct Layout {
    line_ending: &'static str,
    indent_unit: String,
    colon: String,
    /// The whitespace after a comma between members or elements on one line.
    inline_separator: String,
    /// Whether the file spreads its values over several lines.
    multiline: bool,
}

impl Layout {
    fn detect(text: &str, root: &Node) -> Self {
        let colon = detect_colon(text, root).unwrap_or_else(|| ": ".to_string());
        let inline_separator = detect_inline_separator(text, root)
            .unwrap_or_else(|| if colon.ends_with(' ') { " " } else { "" }.to_string());
        Layout {
            line_ending: detect_line_ending(text),
            indent_unit: detect_indent_unit(text, root).unwrap_or_else(|| "  ".to_string()),
            colon,
            inline_separator,
            multiline: text[root.start..root.end].contains('\n'),
        }
    }
}

/// Detects the indentation a container adds for its elements, from the first container that
/// puts its elements on their own lines.
fn detect_indent_unit(text: &str, node: &Node) -> Option<String> {
    let first_lead = match &node.kind {
        NodeKind::Object(members) => members
            .first()
            .map(|member| (member.lead_start, member.key_start)),
        NodeKind::Array(elements) => elements
            .first()
            .map(|element| (element.lead_start, element.value.start)),
        _ => None,
    };

    if let Some((lead_start, element_start)) = first_lead {
        let lead = &text[lead_start..element_start];
        if let Some((_, element_indent)) = lead.rsplit_once('\n') {
            let open_indent = line_indent(text, node.start);
            let unit = element_indent.strip_prefix(open_indent).unwrap_or_default();
            if !unit.is_empty() {
                return Some(unit.to_string());
            }
        }
    }

    node.children()
        .find_map(|child| detect_indent_unit(text, child))
}

/// Detects the separator between key and value, from the first member written on one line.
fn detect_colon(text: &str, node: &Node) -> Option<String> {
    if let NodeKind::Object(members) = &node.kind
        && let Some(colon) = members.iter().find_map(|member| member_colon(text, member))
    {
        return Some(colon.to_string());
    }
    node.children().find_map(|child| detect_colon(text, child))
}

/// Detects the whitespace after a comma, from the first comma that keeps the next member or
/// element on its line.
fn detect_inline_separator(text: &str, node: &Node) -> Option<String> {
    let leads: Vec<(usize, usize)> = match &node.kind {
        NodeKind::Object(members) => members
            .iter()
            .skip(1)
            .map(|member| (member.lead_start, member.key_start))
            .collect(),
        NodeKind::Array(elements) => elements
            .iter()
            .skip(1)
            .map(|element| (element.lead_start, element.value.start))
            .collect(),
        _ => Vec::new(),
    };
    let separator = leads
        .into_iter()
        .map(|(start, end)| &text[start..end])
        .find(|lead| !lead.contains('\n'));

    match separator {
        Some(separator) => Some(separator.to_string()),
        None => node
            .children()
            .find_map(|child| detect_inline_separator(text, child)),
    }
}

/// Returns the spaces and tabs that start the line containing `offset`.
fn line_indent(text: &str, offset: usize) -> &str {
    let line_start = text[..offset].rfind('\n').map_or(0, |index| index + 1);
    let line = &text[line_start..offset];
    let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..indent_len]
}

fn json_string(value: &str) -> String {
    // Serializing a `str` cannot fail: serde_json only fails on maps with non-string keys.
    serde_json::to_string(value).expect("a string always serializes to JSON")
}

fn splice(text: &str, start: usize, end: usize, replacement: &str) -> String {
    let mut edited = String::with_capacity(text.len() + replacement.len());
    edited.push_str(&text[..start]);
    edited.push_str(replacement);
    edited.push_str(&text[end..]);
    edited
}

/// Checks that the edited text parses to the original value with only `key` set, so a flaw in
/// the text edit can never reach the file.
fn verify_edit(
    original: &Value,
    edited: &str,
    path: &[&str],
    key: &str,
    value: &str,
) -> Result<(), SyntaxError> {
    let failure = |detail: String| SyntaxError {
        line: 1,
        column: 1,
        cause: format!("setting \"{key}\" failed: {detail}; the text was left unchanged"),
    };

    let reparsed = parse_strict(edited)
        .map_err(|error| failure(format!("the edit broke the JSON ({error})")))?;
    let expected = with_string_key(original, path, key, value)
        .ok_or_else(|| failure("the path does not lead to an object".to_string()))?;
    if reparsed != expected {
        return Err(failure("the edit changed other values".to_string()));
    }
    Ok(())
}

fn with_string_key(original: &Value, path: &[&str], key: &str, value: &str) -> Option<Value> {
    let mut expected = original.clone();
    let mut object = expected.as_object_mut()?;
    for segment in path {
        object = object
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()?;
    }
    object.insert(key.to_string(), Value::String(value.to_string()));
    Some(expected)
}

impl SyntaxError {
    fn at(text: &str, offset: usize, cause: impl Into<String>) -> Self {
        let (line, column) = line_and_column(text, offset);
        SyntaxError {
            line,
            column,
            cause: cause.into(),
        }
    }
}

/// Converts a byte offset to a 1-based line and column. Columns count characters, as editors
/// do.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Builds the error for text serde_json rejected. The scanner names the cause and points at
/// the offending character. For the few inputs only serde rejects (numbers out of range,
/// unpaired surrogates) serde's own message and position are kept.
fn explain_error(text: &str, error: &serde_json::Error) -> SyntaxError {
    match scan(text) {
        Err(scan_error) => scan_error.into_syntax_error(text),
        Ok(_) => serde_syntax_error(text, error),
    }
}

fn serde_syntax_error(text: &str, error: &serde_json::Error) -> SyntaxError {
    let message = error.to_string();
    let cause = match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message,
    };

    // serde_json counts columns in bytes, so convert them to characters like every other
    // position here.
    let line = error.line().max(1);
    let line_start = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum::<usize>();
    let line_text = text[line_start..].split('\n').next().unwrap_or_default();
    let mut byte_column = error.column().saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(byte_column) {
        byte_column -= 1;
    }
    let column = line_text[..byte_column].chars().count() + 1;

    SyntaxError {
        line,
        column,
        cause,
    }
}

/// A value in the text with its byte span.
#[derive(Debug)]
struct Node {
    start: usize,
    end: usize,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Object(Vec<Member>),
    Array(Vec<Element>),
    String,
    Number,
    Bool,
    Null,
}

#[derive(Debug)]
struct Member {
    /// Start of the whitespace before the key: just after `{` or the preceding comma.
    lead_start: usize,
    /// The decoded key.
    key: String,
    key_start: usize,
    key_end: usize,
    value: Node,
}

#[derive(Debug)]
struct Element {
    lead_start: usize,
    value: Node,
}

impl Node {
    fn children(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        match &self.kind {
            NodeKind::Object(members) => Box::new(members.iter().map(|member| &member.value)),
            NodeKind::Array(elements) => Box::new(elements.iter().map(|element| &element.value)),
            _ => Box::new(std::iter::empty()),
        }
    }
}

impl NodeKind {
    fn described(&self) -> &'static str {
        match self {
            NodeKind::Object(_) => "an object",
            NodeKind::Array(_) => "an array",
            NodeKind::String => "a string",
            NodeKind::Number => "a number",
            NodeKind::Bool => "a boolean",
            NodeKind::Null => "null",
        }
    }
}

#[derive(Debug)]
struct ScanError {
    offset: usize,
    cause: String,
}

impl ScanError {
    fn into_syntax_error(self, text: &str) -> SyntaxError {
        SyntaxError::at(text, self.offset, self.cause)
    }
}

/// Walks strict JSON (RFC 8259) and records spans.
fn scan(text: &str) -> Result<Node, ScanError> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };

    scanner.skip_whitespace()?;
    if scanner.at_end() {
        return Err(scanner.error(scanner.pos, "expected a JSON value, but the text is empty"));
    }
    let root = scanner.value()?;

    scanner.skip_whitespace()?;
    if !scanner.at_end() {
        let found = scanner.describe_next();
        return Err(scanner.error(
            scanner.pos,
            format!("unexpected {found} after the end of the JSON value; a JSON text holds exactly one value"),
        ));
    }
    Ok(root)
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Scanner<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(offset).copied()
    }

    fn error(&self, offset: usize, cause: impl Into<String>) -> ScanError {
        ScanError {
            offset,
            cause: cause.into(),
        }
    }

    /// Describes the character at the current position for a message.
    fn describe_next(&self) -> String {
        describe_char(self.text[self.pos..].chars().next())
    }

    fn skip_whitespace(&mut self) -> Result<(), ScanError> {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' => self.pos += 1,
                b'/' if matches!(self.peek_at(self.pos + 1), Some(b'/' | b'*')) => {
                    return Err(self.error(self.pos, COMMENT_CAUSE));
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<Node, ScanError> {
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                self.string()?;
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: NodeKind::String,
                })
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(byte) if byte.is_ascii_alphabetic() => self.literal(),
            Some(b'\'') => Err(self.error(start, SINGLE_QUOTE_CAUSE)),
            None => Err(self.error(start, "the text ends where a value is expected")),
            Some(_) => {
                let found = self.describe_next();
                Err(self.error(
                    start,
                    format!(
                        "expected a value (string, number, object, array, true, false or null), but found {found}"
                    ),
                ))
            }
        }
    }

    fn enter(&mut self, start: usize) -> Result<(), ScanError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(
                start,
                format!("arrays and objects are nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Node, ScanError> {
        let start = self.pos;
        self.enter(start)?;
        self.pos += 1;

        let mut members = Vec::new();
        let mut lead_start = self.pos;
        let mut comma: Option<usize> = None;
        loop {
            self.skip_whitespace()?;
            match (self.peek(), comma) {
                (Some(b'}'), None) if members.is_empty() => {
                    self.pos += 1;
                    break;
                }
                (Some(b'}'), Some(comma)) => {
                    return Err(self.error(comma, "trailing comma before '}'"));
                }
                (None, _) => return Err(self.unclosed(start, '}', "object")),
                _ => {}
            }

            let member = self.member(lead_start, comma.is_some())?;
            members.push(member);

            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                    lead_start = self.pos;
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.unclosed(start, '}', "object")),
                Some(_) => {
                    let key = members
                        .last()
                        .map_or("", |member: &Member| member.key.as_str());
                    let found = self.describe_next();
                    return Err(self.error(
                        self.pos,
                        format!(
                            "expected ',' or '}}' after the value of \"{key}\", but found {found}"
                        ),
                    ));
                }
            }
        }

        self.depth -= 1;
        Ok(Node {
            start,
            end: self.pos,
            kind: NodeKind::Object(members),
        })
    }

    fn member(&mut self, lead_start: usize, after_comma: bool) -> Result<Member, ScanError> {
        let key_start = self.pos;
        match self.peek() {
            Some(b'"') => self.string()?,
            Some(b'\'') => return Err(self.error(key_start, SINGLE_QUOTE_CAUSE)),
            Some(byte) if byte.is_ascii_alphabetic() || byte == b'_' => {
                return Err(self.error(key_start, "object keys must be strings in double quotes"));
            }
            _ => {
                let expected = if after_comma {
                    "a key in double quotes"
                } else {
                    "a key in double quotes or '}'"
                };
                let found = self.describe_next();
                return Err(
                    self.error(key_start, format!("expected {expected}, but found {found}"))
                );
            }
        }
        let key_end = self.pos;
        let key =
            serde_json::from_str::<String>(&self.text[key_start..key_end]).map_err(|error| {
                self.error(
                    key_start,
                    format!(
                        "invalid key: {}",
                        error
                            .to_string()
                            .split(" at line ")
                            .next()
                            .unwrap_or_default()
                    ),
                )
            })?;

        self.skip_whitespace()?;
        if self.peek() != Some(b':') {
            let found = self.describe_next();
            return Err(self.error(
                self.pos,
                format!("expected ':' after the key \"{key}\", but found {found}"),
            ));
        }
        self.pos += 1;

        self.skip_whitespace()?;
        let value = self.value()?;
        Ok(Member {
            lead_start,
            key,
            key_start,
            key_end,
            value,
        })
    }

    fn array(&mut self) -> Result<Node, ScanError> {
        let start = self.pos;
        self.enter(start)?;
        self.pos += 1;

        let mut elements = Vec::new();
        let mut lead_start = self.pos;
        let mut comma: Option<usize> = None;
        loop {
            self.skip_whitespace()?;
            match (self.peek(), comma) {
                (Some(b']'), None) if elements.is_empty() => {
                    self.pos += 1;
                    break;
                }
                (Some(b']'), Some(comma)) => {
                    return Err(self.error(comma, "trailing comma before ']'"));
                }
                (None, _) => return Err(self.unclosed(start, ']', "array")),
                _ => {}
            }

            let value = self.value()?;
            elements.push(Element { lead_start, value });

            self.skip_whitespace()?;
            match self.peek() {
                Some(b',') => {
                    comma = Some(self.pos);
                    self.pos += 1;
                    lead_start = self.pos;
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(self.unclosed(start, ']', "array")),
                Some(_) => {
                    let found = self.describe_next();
                    return Err(self.error(
                        self.pos,
                        format!("expected ',' or ']' after an array element, but found {found}"),
                    ));
                }
            }
        }

        self.depth -= 1;
        Ok(Node {
            start,
            end: self.pos,
            kind: NodeKind::Array(elements),
        })
    }

    /// Builds the error for a container still open at the end of the text, pointing at the end.
    fn unclosed(&self, start: usize, close: char, container: &str) -> ScanError {
        let (line, column) = line_and_column(self.text, start);
        self.error(
            self.pos,
            format!("the {container} opened at line {line}, column {column} is not closed with '{close}'"),
        )
    }

    /// Scans a string literal from its opening quote to just past its closing quote.
    fn string(&mut self) -> Result<(), ScanError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error(start, "the string is not closed with '\"'"));
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => self.escape(start)?,
                b'\n' | b'\r' => {
                    return Err(self.error(
                        self.pos,
                        "line break inside a string; close the string with '\"' before the end of the line, or write the line break as \\n",
                    ));
                }
                b'\t' => {
                    return Err(
                        self.error(self.pos, "tab character inside a string; write it as \\t")
                    );
                }
                0x00..=0x1f => {
                    return Err(self.error(
                        self.pos,
                        format!("control character U+{byte:04X} inside a string; write it as \\u{byte:04x}"),
                    ));
                }
                // Bytes of multi-byte characters are all >= 0x80, so stepping byte by byte never
                // stops at an ASCII byte inside a character.
                _ => self.pos += 1,
            }
        }
    }

    fn escape(&mut self, string_start: usize) -> Result<(), ScanError> {
        let backslash = self.pos;
        match self.peek_at(backslash + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let digits = self.bytes.get(backslash + 2..backslash + 6);
                if digits.is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit)) {
                    self.pos += 6;
                    Ok(())
                } else {
                    Err(self.error(
                        backslash,
                        "invalid \\u escape; it needs four hex digits, as in \\u00e9",
                    ))
                }
            }
            None => Err(self.error(string_start, "the string is not closed with '\"'")),
            Some(_) => {
                let escaped = self.text[backslash + 1..]
                    .chars()
                    .next()
                    .unwrap_or_default();
                Err(self.error(
                    backslash,
                    format!("invalid escape '\\{escaped}' in a string; write a backslash as \\\\"),
                ))
            }
        }
    }

    fn number(&mut self) -> Result<Node, ScanError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.text[self.pos..].starts_with("Infinity") {
                return Err(self.error(start, NON_FINITE_CAUSE));
            }
        }

        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                    return Err(self.error(
                        self.pos,
                        "invalid number: leading zeros are not allowed in JSON",
                    ));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.number_error("a digit after '-'")),
        }

        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digits("a digit after the decimal point")?;
        }

        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.require_digits("a digit in the exponent")?;
        }

        Ok(Node {
            start,
            end: self.pos,
            kind: NodeKind::Number,
        })
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn require_digits(&mut self, expected: &str) -> Result<(), ScanError> {
        if !self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            return Err(self.number_error(expected));
        }
        self.skip_digits();
        Ok(())
    }

    fn number_error(&self, expected: &str) -> ScanError {
        let found = self.describe_next();
        self.error(
            self.pos,
            format!("invalid number: expected {expected}, but found {found}"),
        )
    }

    /// Scans `true`, `false` or `null`, and names the usual mistakes for any other word.
    fn literal(&mut self) -> Result<Node, ScanError> {
        let start = self.pos;
        let word_len = self.text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.text.len() - start);
        let word = &self.text[start..start + word_len];

        let kind = match word {
            "true" | "false" => NodeKind::Bool,
            "null" => NodeKind::Null,
            "NaN" | "Infinity" => return Err(self.error(start, NON_FINITE_CAUSE)),
            _ => return Err(self.error(start, unknown_word_cause(word))),
        };
        self.pos += word_len;
        Ok(Node {
            start,
            end: self.pos,
            kind,
        })
    }
}

fn unknown_word_cause(word: &str) -> String {
    let lowercase = word.to_ascii_lowercase();
    match lowercase.as_str() {
        "true" | "false" | "null" => {
            format!("'{word}' is not a JSON value; write it in lowercase: {lowercase}")
        }
        "none" => format!("'{word}' is not a JSON value; write null"),
        _ => format!(
            "unexpected word '{word}'; strings must be in double quotes, and the only literals are true, false and null"
        ),
    }
}

fn describe_char(found: Option<char>) -> String {
    match found {
        None => "the end of the text".to_string(),
        Some('\n' | '\r') => "a line break".to_string(),
        Some(c) if c.is_control() => format!("the control character U+{:04X}", c as u32),
        // Non-breaking spaces and byte-order marks pasted from elsewhere look like whitespace.
        Some(c) if !c.is_ascii() && (c.is_whitespace() || matches!(c, '\u{feff}' | '\u{200b}')) => {
            format!("the invisible character U+{:04X}", c as u32)
        }
        Some(c) => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Lists the 1-based numbers of the lines that differ between two texts of the same line
    /// count, comparing the raw lines with their line endings.
    fn changed_lines(before: &str, after: &str) -> Vec<usize> {
        let before_lines: Vec<&str> = before.split_inclusive('\n').collect();
        let after_lines: Vec<&str> = after.split_inclusive('\n').collect();
        assert_eq!(
            before_lines.len(),
            after_lines.len(),
            "line count changed:\n{after}"
        );
        (0..before_lines.len())
            .filter(|&index| before_lines[index] != after_lines[index])
            .map(|index| index + 1)
            .collect()
    }

    /// Runs `set_string_key` and checks the result parses to the original with only `key` set.
    fn set_and_check(text: &str, path: &[&str], key: &str, value: &str) -> String {
        let edited = set_string_key(text, path, key, value).unwrap();
        let expected = with_string_key(&parse_strict(text).unwrap(), path, key, value).unwrap();
        assert_eq!(
            parse_strict(&edited).unwrap(),
            expected,
            "edited text:\n{edited}"
        );
        edited
    }

    #[test]
    fn parse_strict_accepts_valid_json() {
        let cases: &[(&str, Value)] = &[
            ("{}", json!({})),
            ("[]", json!([])),
            ("  {\"a\": 1}\n", json!({"a": 1})),
            (
                "{\r\n\t\"a\": [1, 2.5, -3e2, 0, -0.0e+1]\r\n}",
                json!({"a": [1, 2.5, -300.0, 0, -0.0]}),
            ),
            ("[true, false, null]", json!([true, false, null])),
            (
                "\"caf\\u00e9 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"",
                json!("café \"q\" \\ / \u{8}\u{c}\n\r\t"),
            ),
            ("{\"\\ud83d\\ude00\": \"😀\"}", json!({"😀": "😀"})),
            ("{\"a\": 1, \"a\": 2}", json!({"a": 2})),
            (
                "{\"nested\": {\"deep\": [{\"x\": {}}]}}",
                json!({"nested": {"deep": [{"x": {}}]}}),
            ),
            ("1", json!(1)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_strict(text).as_ref(), Ok(expected), "text: {text:?}");
        }
    }

    #[test]
    fn parse_strict_names_cause_and_position() {
        // (text, line, column, words the cause must contain)
        let cases: &[(&str, usize, usize, &str)] = &[
            ("\u{feff}{\"a\": 1}", 1, 1, BOM_CAUSE),
            ("\u{feff}", 1, 1, BOM_CAUSE),
            ("{\n  // the dev stage\n  \"a\": 1\n}", 2, 3, COMMENT_CAUSE),
            ("{\"a\": 1 /* note */}", 1, 9, COMMENT_CAUSE),
            ("{\"a\": /* note */ 1}", 1, 7, COMMENT_CAUSE),
            ("{\"a\": 1}\n// end", 2, 1, COMMENT_CAUSE),
            ("// head\n{}", 1, 1, COMMENT_CAUSE),
            ("{\n  \"a\": 1,\n}", 2, 9, "trailing comma before '}'"),
            ("{\r\n  \"a\": 1,\r\n}", 2, 9, "trailing comma before '}'"),
            ("{\"a\": 1 , }", 1, 9, "trailing comma before '}'"),
            ("[1, 2,]", 1, 6, "trailing comma before ']'"),
            ("[1,\n  2,\n  ]", 2, 4, "trailing comma before ']'"),
            ("{\"a\": 'x'}", 1, 7, SINGLE_QUOTE_CAUSE),
            ("{'a': 1}", 1, 2, SINGLE_QUOTE_CAUSE),
            ("[NaN]", 1, 2, NON_FINITE_CAUSE),
            ("[Infinity]", 1, 2, NON_FINITE_CAUSE),
            ("[-Infinity]", 1, 2, NON_FINITE_CAUSE),
            ("[True]", 1, 2, "write it in lowercase: true"),
            ("{\"a\": None}", 1, 7, "write null"),
            ("{\"a\": yes}", 1, 7, "unexpected word 'yes'"),
            ("{a: 1}", 1, 2, "keys must be strings in double quotes"),
            (
                "{\"a\": 1\n \"b\": 2}",
                2,
                2,
                "expected ',' or '}' after the value of \"a\"",
            ),
            ("[1 2]", 1, 4, "expected ',' or ']'"),
            ("{\"a\" 1}", 1, 6, "expected ':' after the key \"a\""),
            ("{\"a\": }", 1, 7, "expected a value"),
            ("[1,,2]", 1, 4, "expected a value"),
            ("{,}", 1, 2, "expected a key in double quotes or '}'"),
            (
                "{\"a\": 1, 2}",
                1,
                10,
                "expected a key in double quotes, but found '2'",
            ),
            (
                "{\"a\": 1",
                1,
                8,
                "the object opened at line 1, column 1 is not closed with '}'",
            ),
            (
                "{\n  \"a\": [1,\n",
                3,
                1,
                "the array opened at line 2, column 8 is not closed with ']'",
            ),
            ("[\"abc", 1, 2, "not closed with '\"'"),
            ("[\"a\\", 1, 2, "not closed with '\"'"),
            ("", 1, 1, "the text is empty"),
            (" \n ", 2, 2, "the text is empty"),
            ("{} {}", 1, 4, "after the end of the JSON value"),
            ("{\"a\": 1}}", 1, 9, "after the end of the JSON value"),
            ("[01]", 1, 3, "leading zeros"),
            ("[1.]", 1, 4, "a digit after the decimal point"),
            ("[1e]", 1, 4, "a digit in the exponent"),
            ("[1e+]", 1, 5, "a digit in the exponent"),
            ("[-]", 1, 3, "a digit after '-'"),
            ("[.5]", 1, 2, "expected a value"),
            ("[+1]", 1, 2, "expected a value"),
            ("[\"a\\qb\"]", 1, 4, "invalid escape '\\q'"),
            ("[\"\\u12\"]", 1, 3, "four hex digits"),
            ("[\"a\tb\"]", 1, 4, "write it as \\t"),
            ("[\"a\u{1}b\"]", 1, 4, "U+0001"),
            ("[\"line\nbreak\"]", 1, 7, "line break inside a string"),
            ("{\"é\": x}", 1, 7, "unexpected word 'x'"),
            ("{\u{a0}\"a\": 1}", 1, 2, "U+00A0"),
            ("[1, \u{feff}2]", 1, 5, "U+FEFF"),
            ("{\"\\ud800\": 1}", 1, 2, "invalid key"),
        ];
        for &(text, line, column, cause) in cases {
            let error = parse_strict(text).expect_err(text);
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "text {text:?}: {error}"
            );
            assert!(
                error.cause.contains(cause),
                "text {text:?}: cause {:?}",
                error.cause
            );
            // The scanner only explains. serde_json must agree that the text is invalid.
            assert!(
                serde_json::from_str::<Value>(text).is_err(),
                "serde accepts {text:?}"
            );
        }
    }

    #[test]
    fn parse_strict_keeps_serde_message_scanner_accepts() {
        // The scanner checks grammar only; serde_json rejects these values.
        let cases: &[(&str, usize, usize, &str)] = &[
            ("[1e999]", 1, 6, "number out of range"),
            ("{\"a\":\n \"\\ud800\"}", 2, 9, "hex escape"),
        ];
        for &(text, line, column, cause) in cases {
            let error = parse_strict(text).expect_err(text);
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "text {text:?}: {error}"
            );
            assert!(
                error.cause.contains(cause),
                "text {text:?}: cause {:?}",
                error.cause
            );
            assert!(
                !error.cause.contains(" at line "),
                "position left in cause: {:?}",
                error.cause
            );
        }
    }

    #[test]
    fn parse_strict_nesting_limit_matches_serde() {
        let nested = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        assert!(parse_strict(&nested(MAX_DEPTH)).is_ok());

        let error = parse_strict(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!((error.line, error.column), (1, MAX_DEPTH + 1));
        assert!(error.cause.contains("nested"), "{}", error.cause);

        // Far deeper text must not overflow the scanner's stack.
        assert!(parse_strict(&nested(100_000)).is_err());
    }

    #[test]
    fn syntax_error_display_shows_position() {
        let error = parse_strict("[1,]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "line 1, column 3: trailing comma before ']'"
        );
    }

    #[test]
    fn detect_line_ending_reads_first_line() {
        let cases = [
            ("{\r\n}\r\n", "\r\n"),
            ("{\n}\n", "\n"),
            ("{}", "\n"),
            ("", "\n"),
            ("{\n}\r\n", "\n"),
            ("{\r\n}\n", "\r\n"),
        ];
        for (text, expected) in cases {
            assert_eq!(detect_line_ending(text), expected, "text {text:?}");
        }
    }

    #[test]
    fn set_string_key_replaces_existing_value() {
        let text = "{\n  \"version\": \"2.0\",\n  \"stages\": {\n    \"dev\": {\n      \"api_gateway_policy_file\": \"old.json\",\n      \"api_gateway_stage\": \"api\"\n    }\n  }\n}\n";
        let edited = set_and_check(
            text,
            &["stages", "dev"],
            "api_gateway_policy_file",
            "apigw-policy-dev.json",
        );

        assert_eq!(changed_lines(text, &edited), vec![5]);
        assert_eq!(
            edited.lines().nth(4),
            Some("      \"api_gateway_policy_file\": \"apigw-policy-dev.json\",")
        );
    }

    #[test]
    fn set_string_key_crlf_tabs_custom_order() {
        let text = "{\r\n\t\"stages\": {\r\n\t\t\"prod\": {\r\n\t\t\t\"api_gateway_stage\": \"live\"\r\n\t\t},\r\n\t\t\"dev\": {\r\n\t\t\t\"autogen_policy\": false,\r\n\t\t\t\"api_gateway_policy_file\": \"a.json\",\r\n\t\t\t\"environment_variables\": {\"A\": \"1\"}\r\n\t\t}\r\n\t},\r\n\t\"app_name\": \"app\",\r\n\t\"version\": \"2.0\"\r\n}\r\n";

        let replaced = set_and_check(
            text,
            &["stages", "dev"],
            "api_gateway_policy_file",
            "b.json",
        );
        assert_eq!(changed_lines(text, &replaced), vec![8]);
        assert_eq!(
            replaced.split("\r\n").nth(7),
            Some("\t\t\t\"api_gateway_policy_file\": \"b.json\",")
        );

        // Inserting after a member whose value is an object: only that line gains a comma.
        let inserted = set_and_check(text, &["stages", "dev"], "api_gateway_stage", "v2");
        let expected = text.replace(
            "{\"A\": \"1\"}\r\n\t\t}",
            "{\"A\": \"1\"},\r\n\t\t\t\"api_gateway_stage\": \"v2\"\r\n\t\t}",
        );
        assert_eq!(inserted, expected);
        assert_eq!(
            inserted.matches('\n').count(),
            inserted.matches("\r\n").count(),
            "a bare LF crept in"
        );
    }

    #[test]
    fn set_string_key_crlf_four_spaces_new_stage() {
        let text = "{\r\n    \"app_name\": \"app\",\r\n    \"stages\": {\r\n        \"prod\": {\r\n            \"api_gateway_stage\": \"api\"\r\n        }\r\n    }\r\n}";
        let edited = set_and_check(
            text,
            &["stages", "dev"],
            "api_gateway_policy_file",
            "p.json",
        );
        let expected = "{\r\n    \"app_name\": \"app\",\r\n    \"stages\": {\r\n        \"prod\": {\r\n            \"api_gateway_stage\": \"api\"\r\n        },\r\n        \"dev\": {\r\n            \"api_gateway_policy_file\": \"p.json\"\r\n        }\r\n    }\r\n}";
        assert_eq!(edited, expected);
    }

    #[test]
    fn set_string_key_table() {
        // (name, text, path, key, value, expected text)
        type Case = (
            &'static str,
            &'static str,
            &'static [&'static str],
            &'static str,
            &'static str,
            &'static str,
        );
        let cases: &[Case] = &[
            (
                "compact replace",
                r#"{"stages":{"dev":{"api_gateway_policy_file":"a.json"}}}"#,
                &["stages", "dev"],
                "api_gateway_policy_file",
                "b.json",
                r#"{"stages":{"dev":{"api_gateway_policy_file":"b.json"}}}"#,
            ),
            (
                "compact insert",
                r#"{"stages":{"dev":{"a":1}}}"#,
                &["stages", "dev"],
                "k",
                "v",
                r#"{"stages":{"dev":{"a":1,"k":"v"}}}"#,
            ),
            (
                "one line with spaces",
                r#"{"stages": {"dev": {"a": 1}, "prod": {}}}"#,
                &["stages", "dev"],
                "k",
                "v",
                r#"{"stages": {"dev": {"a": 1, "k": "v"}, "prod": {}}}"#,
            ),
            (
                "compact empty object",
                r#"{"stages":{"dev":{}}}"#,
                &["stages", "dev"],
                "k",
                "v",
                r#"{"stages":{"dev":{"k":"v"}}}"#,
            ),
            (
                "compact missing stage",
                r#"{"stages": {"prod": {"a": 1}}}"#,
                &["stages", "dev"],
                "k",
                "v",
                r#"{"stages": {"prod": {"a": 1}, "dev": {"k": "v"}}}"#,
            ),
            (
                "compact missing stages",
                r#"{"app_name":"app"}"#,
                &["stages", "dev"],
                "k",
                "v",
                r#"{"app_name":"app","stages":{"dev":{"k":"v"}}}"#,
            ),
            (
                "empty root",
                "{}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\"stages\": {\"dev\": {\"k\": \"v\"}}}\n",
            ),
            (
                "root key",
                "{\n  \"app_name\": \"app\"\n}\n",
                &[],
                "api_gateway_policy_file",
                "x.json",
                "{\n  \"app_name\": \"app\",\n  \"api_gateway_policy_file\": \"x.json\"\n}\n",
            ),
            (
                "nested objects before insertion point",
                "{\n  \"stages\": {\n    \"dev\": {\n      \"environment_variables\": {\n        \"A\": {\"deep\": [1, {\"x\": 2}]}\n      }\n    }\n  }\n}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\n  \"stages\": {\n    \"dev\": {\n      \"environment_variables\": {\n        \"A\": {\"deep\": [1, {\"x\": 2}]}\n      },\n      \"k\": \"v\"\n    }\n  }\n}\n",
            ),
            (
                "empty stage object",
                "{\n  \"stages\": {\n    \"dev\": {}\n  }\n}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\n  \"stages\": {\n    \"dev\": {\n      \"k\": \"v\"\n    }\n  }\n}\n",
            ),
            (
                "empty object with whitespace",
                "{\n  \"stages\": {\n    \"dev\": {\n    }\n  }\n}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\n  \"stages\": {\n    \"dev\": {\n      \"k\": \"v\"\n    }\n  }\n}\n",
            ),
            (
                "empty stages object, tab indent from file",
                "{\n\t\"app_name\": \"app\",\n\t\"stages\": {}\n}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\n\t\"app_name\": \"app\",\n\t\"stages\": {\n\t\t\"dev\": {\n\t\t\t\"k\": \"v\"\n\t\t}\n\t}\n}\n",
            ),
            (
                "missing stages, 4-space indent",
                "{\n    \"app_name\": \"app\"\n}",
                &["stages", "dev"],
                "k",
                "v",
                "{\n    \"app_name\": \"app\",\n    \"stages\": {\n        \"dev\": {\n            \"k\": \"v\"\n        }\n    }\n}",
            ),
            (
                "blank line before last member not repeated",
                "{\n  \"a\": 1,\n\n  \"b\": 2\n}",
                &[],
                "k",
                "v",
                "{\n  \"a\": 1,\n\n  \"b\": 2,\n  \"k\": \"v\"\n}",
            ),
            (
                "first member on the brace line",
                "{ \"a\": 1,\n  \"b\": 2 }",
                &[],
                "k",
                "v",
                "{ \"a\": 1,\n  \"b\": 2,\n  \"k\": \"v\" }",
            ),
            (
                "empty multi-line root",
                "{\n}\n",
                &["stages", "dev"],
                "k",
                "v",
                "{\n  \"stages\": {\n    \"dev\": {\n      \"k\": \"v\"\n    }\n  }\n}\n",
            ),
            (
                "colon style copied",
                "{\n  \"a\" : 1\n}",
                &[],
                "k",
                "v",
                "{\n  \"a\" : 1,\n  \"k\" : \"v\"\n}",
            ),
            (
                "quotes and backslashes escaped",
                "{\"a\": \"old\"}",
                &[],
                "a",
                "C:\\dir\\\"x\".json",
                "{\"a\": \"C:\\\\dir\\\\\\\"x\\\".json\"}",
            ),
            (
                "control characters escaped",
                "{\"a\": \"old\"}",
                &[],
                "a",
                "line\nbreak\ttab",
                "{\"a\": \"line\\nbreak\\ttab\"}",
            ),
            (
                "key escaped on insert",
                "{}",
                &[],
                "say \"hi\"",
                "v",
                "{\"say \\\"hi\\\"\": \"v\"}",
            ),
            (
                "non-string value replaced",
                "{\"a\": null, \"b\": [1]}",
                &[],
                "a",
                "v",
                "{\"a\": \"v\", \"b\": [1]}",
            ),
            (
                "object value replaced",
                "{\"a\": {\"x\": 1}}",
                &[],
                "a",
                "v",
                "{\"a\": \"v\"}",
            ),
            (
                "duplicate key edits the last",
                "{\"a\": \"1\", \"a\": \"2\"}",
                &[],
                "a",
                "3",
                "{\"a\": \"1\", \"a\": \"3\"}",
            ),
            (
                "escaped key in path",
                "{\"st\\u0061ges\": {\"dev\": {}}}",
                &["stages", "dev"],
                "k",
                "v",
                "{\"st\\u0061ges\": {\"dev\": {\"k\": \"v\"}}}",
            ),
            (
                "unicode kept",
                "{\"name\": \"café\", \"a\": \"x\"}",
                &[],
                "a",
                "ü",
                "{\"name\": \"café\", \"a\": \"ü\"}",
            ),
            (
                "same value",
                "{\"a\": \"x\"}",
                &[],
                "a",
                "x",
                "{\"a\": \"x\"}",
            ),
            (
                "no trailing newline kept",
                "{\n  \"a\": \"x\"\n}",
                &[],
                "a",
                "y",
                "{\n  \"a\": \"y\"\n}",
            ),
        ];
        for &(name, text, path, key, value, expected) in cases {
            let edited = set_and_check(text, path, key, value);
            assert_eq!(edited, expected, "case: {name}");
        }
    }

    /// Formats a document as compact JSON and pretty-printed with several indents and line
    /// endings.
    fn formatted(document: &Value) -> Vec<String> {
        use serde::Serialize;

        let pretty = |indent: &[u8]| {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            document.serialize(&mut serializer).unwrap();
            String::from_utf8(out).unwrap()
        };
        vec![
            serde_json::to_string(document).unwrap(),
            pretty(b"  ") + "\n",
            pretty(b"    ").replace('\n', "\r\n") + "\r\n",
            pretty(b"\t").replace('\n', "\r\n"),
        ]
    }

    #[test]
    fn set_string_key_every_format_and_path() {
        let document = json!({
            "version": "2.0",
            "stages": {
                "prod": {"api_gateway_stage": "live", "tags": {"team": "a"}},
                "dev": {"lambda_functions": {"worker": {"lambda_timeout": 60}}, "api_gateway_stage": "api"},
                "empty": {}
            },
            "app_name": "app",
            "tags": []
        });
        let paths: &[&[&str]] = &[
            &[],
            &["stages"],
            &["stages", "prod"],
            &["stages", "dev"],
            &["stages", "empty"],
            &["stages", "qa"],
            &["new", "deeper"],
            &["stages", "dev", "lambda_functions", "worker"],
        ];

        for text in formatted(&document) {
            for path in paths {
                for key in ["api_gateway_stage", "api_gateway_policy_file"] {
                    let edited = set_and_check(&text, path, key, "new \"value\"");

                    if text.contains("\r\n") {
                        let bare_lf = edited.matches('\n').count() - edited.matches("\r\n").count();
                        assert_eq!(bare_lf, 0, "bare LF in:\n{edited}");
                    }
                    if !text.contains('\n') {
                        assert!(
                            !edited.contains('\n'),
                            "line break added to compact text: {edited}"
                        );
                    }
                }
            }

            // Replacing an existing value changes exactly one line.
            let replaced = set_and_check(&text, &["stages", "dev"], "api_gateway_stage", "v2");
            assert_eq!(changed_lines(&text, &replaced).len(), 1, "{replaced}");
        }
    }

    #[test]
    fn set_string_key_rejects_non_object_path() {
        // (text, path, line, column, cause)
        let cases: &[(&str, &[&str], usize, usize, &str)] = &[
            (
                "[1]",
                &[],
                1,
                1,
                "cannot set \"k\": the top-level value is an array, not an object",
            ),
            (
                "{\"stages\": []}",
                &["stages", "dev"],
                1,
                12,
                "\"stages\" is an array, not an object",
            ),
            (
                "{\n  \"stages\": {\n    \"dev\": \"x\"\n  }\n}",
                &["stages", "dev"],
                3,
                12,
                "\"stages.dev\" is a string, not an object",
            ),
            (
                "{\"stages\": null}",
                &["stages"],
                1,
                12,
                "\"stages\" is null, not an object",
            ),
        ];
        for &(text, path, line, column, cause) in cases {
            let error = set_string_key(text, path, "k", "v").expect_err(text);
            assert_eq!(
                (error.line, error.column),
                (line, column),
                "text {text:?}: {error}"
            );
            assert!(
                error.cause.contains(cause),
                "text {text:?}: cause {:?}",
                error.cause
            );
        }
    }

    #[test]
    fn set_string_key_rejects_invalid_json() {
        let error = set_string_key("{\n  \"a\": 1,\n}", &[], "k", "v").unwrap_err();
        assert_eq!((error.line, error.column), (2, 9));
        assert_eq!(error.cause, "trailing comma before '}'");

        let error = set_string_key("\u{feff}{}", &[], "k", "v").unwrap_err();
        assert_eq!(error.cause, BOM_CAUSE);
    }
}
