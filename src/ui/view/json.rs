//! Syntax colours for pretty-printed JSON and for diff lines.

use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};

use crate::core::diff::DiffLine;

/// Colours one line of pretty JSON: keys, strings, numbers and literals.
pub fn highlight_line(line: &str) -> Line<'static> {
    let mut spans = Vec::new();
    let mut rest = line;

    while !rest.is_empty() {
        if rest.starts_with('"') {
            let end = string_end(rest);
            let (token, after) = rest.split_at(end);
            let is_key = after.trim_start().starts_with(':');
            let color = if is_key { Color::Cyan } else { Color::Green };
            spans.push(Span::styled(token.to_string(), Style::new().fg(color)));
            rest = after;
            continue;
        }

        let end = rest.find('"').unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        spans.push(plain_span(token));
        rest = after;
    }
    Line::from(spans)
}

/// The byte length of the JSON string at the start of `text`, quotes included.
fn string_end(text: &str) -> usize {
    let mut escaped = false;
    for (index, character) in text.char_indices().skip(1) {
        match character {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return index + 1,
            _ => escaped = false,
        }
    }
    text.len()
}

fn plain_span(token: &str) -> Span<'static> {
    let trimmed =
        token.trim_matches(|character: char| !character.is_alphanumeric() && character != '-');
    let style = if trimmed.parse::<f64>().is_ok() || ["true", "false", "null"].contains(&trimmed) {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::Gray)
    };
    Span::styled(token.to_string(), style)
}

pub fn diff_line(line: &DiffLine) -> Line<'static> {
    match line {
        DiffLine::Same(text) => Line::styled(format!("  {text}"), Style::new().fg(Color::Gray)),
        DiffLine::Added(text) => Line::styled(format!("+ {text}"), Style::new().fg(Color::Green)),
        DiffLine::Removed(text) => Line::styled(format!("- {text}"), Style::new().fg(Color::Red)),
    }
}
