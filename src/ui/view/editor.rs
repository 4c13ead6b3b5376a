//! The stage editor: the entry list with flags, the input line and the editor's overlays.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use crate::core::access::{Decision, Outcome};
use crate::core::cidr::{EntryFlag, parse_entry};
use crate::core::policy::StageAccess;
use crate::core::sets::EntrySource;
use crate::model::edit::AddressDecision;
use crate::model::edit::{EditSession, EmptyChoice};
use crate::model::{Inventory, SetsState};
use crate::ui::editor::{EditorState, InputMode, Overlay, Prompt};

use super::{popup, save};

pub fn draw(frame: &mut Frame, area: Rect, editor: &EditorState, inventory: &Inventory) {
    match &editor.overlay {
        Overlay::Preview { tab, scroll } => {
            save::draw_preview(frame, area, editor, *tab, *scroll, &inventory.sets)
        }
        Overlay::Confirm(confirm) => save::draw_confirm(frame, area, editor, confirm),
        Overlay::Progress(run) => save::draw_progress(frame, area, editor, run, &inventory.sets),
        Overlay::TestAddress { input, results } => {
            draw_test_address(frame, area, input, results.as_ref())
        }
        Overlay::History { versions, selected } => {
            save::draw_history(frame, area, editor, versions, *selected, &inventory.sets)
        }
        Overlay::None => draw_list_view(frame, area, editor, &inventory.sets),
    }
    if let Some(prompt) = &editor.prompt {
        draw_prompt(frame, area, editor, prompt);
    }
}

fn draw_list_view(frame: &mut Frame, area: Rect, editor: &EditorState, sets: &SetsState) {
    let info_lines = info_lines(editor);
    let width = usize::from(area.width.max(1));
    let info_height: usize = info_lines
        .iter()
        .map(|line| line.width().max(1).div_ceil(width))
        .sum();
    let input_height = if editor.input.is_some() { 4 } else { 0 };
    let [info, list, input] = Layout::vertical([
        Constraint::Length((info_height as u16).min(area.height / 2)),
        Constraint::Min(3),
        Constraint::Length(input_height),
    ])
    .areas(area);

    frame.render_widget(Paragraph::new(info_lines).wrap(Wrap { trim: false }), info);
    draw_entries(frame, list, editor, sets);
    if editor.input.is_some() {
        draw_input(frame, input, editor);
    }
}

fn info_lines(editor: &EditorState) -> Vec<Line<'static>> {
    let session = &editor.session;
    let source = match (&session.local_path, &session.local) {
        (_, Some(file)) => format!("policy file {}", editor.display_path(&file.path)),
        (Some(path), None) => format!(
            "policy file {} (not created yet)",
            editor.display_path(path)
        ),
        (None, None) if session.target.chalice_stage.is_some() => {
            "the live policy (no policy file yet)".to_string()
        }
        (None, None) => "live policy".to_string(),
    };
    let target = if editor.online {
        "local file and live REST API"
    } else {
        "local files only"
    };
    let target = if session.target.chalice_stage.is_none() {
        "live REST API"
    } else {
        target
    };

    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                session.target.title(),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(
                if (session.is_dirty() || session.description_override.is_some()) && !editor.saved {
                    "  (modified)"
                } else {
                    ""
                },
            ),
        ]),
        Line::from(Span::styled(
            format!(
                "Edits {source}; save writes the {target}. Now: {}.",
                access_words(session)
            ),
            Style::new().fg(Color::Gray),
        )),
    ];
    for warning in &editor.warnings {
        lines.push(Line::styled(
            format!("! {warning}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    lines.push(Line::from(vec![
        Span::styled("Who gets in now: ", Style::new().fg(Color::Gray)),
        Span::raw(session.access_now().summary()),
    ]));
    match session.access_after() {
        Ok((report, warnings)) => {
            if session.is_dirty() || session.description_override.is_some() {
                lines.push(Line::from(vec![
                    Span::styled("After save: ", Style::new().fg(Color::Gray)),
                    Span::raw(report.summary()),
                ]));
            }
            for warning in warnings {
                lines.push(Line::styled(
                    format!("! {warning}"),
                    Style::new().fg(Color::Red),
                ));
            }
        }
        Err(error) => lines.push(Line::styled(
            format!("! The edit cannot be applied: {error}"),
            Style::new().fg(Color::Red),
        )),
    }
    if editor.has_drift() {
        lines.push(Line::styled(
            "! The policy file and the live policy differ. L takes the live policy into the file; F pushes the file live and redeploys.",
            Style::new().fg(Color::Yellow),
        ));
    }
    let shared = session.shared_stages();
    if !shared.is_empty() {
        let text = if session.apply_to_shared {
            format!(
                "! This allowlist's statement also covers stage(s) {}: the edit applies to them too (t: only this stage).",
                shared.join(", ")
            )
        } else {
            format!(
                "! This allowlist's statement also covers stage(s) {}: save gives {} its own statement, so they keep their list (t: edit them too).",
                shared.join(", "),
                session.target.stage
            )
        };
        lines.push(Line::styled(text, Style::new().fg(Color::Yellow)));
    }
    lines
}

fn access_words(session: &EditSession) -> String {
    let now = match &session.original_access {
        StageAccess::Unrestricted => "open to everyone".to_string(),
        StageAccess::Closed => "closed to everyone".to_string(),
        StageAccess::Allowlist(allowlist) if allowlist.cidrs.len() == 1 => "1 CIDR".to_string(),
        StageAccess::Allowlist(allowlist) => format!("{} CIDRs", allowlist.cidrs.len()),
    };
    if !session.entries.is_empty() {
        return now;
    }
    match session.empty_choice {
        Some(EmptyChoice::Open) => format!("{now}; after save open to everyone"),
        Some(EmptyChoice::Closed) => format!("{now}; after save closed to everyone"),
        None => now,
    }
}

/// For each entry, the named sets that also list its network.
fn set_tags(editor: &EditorState, sets: &SetsState) -> Vec<Vec<String>> {
    let session = &editor.session;
    let resolved = editor
        .sets_stage_key()
        .and_then(|key| {
            sets.merged
                .config
                .resolve_stage_allowlist(&session.entries, &key)
                .ok()
        })
        .unwrap_or_default();
    session
        .entries
        .iter()
        .map(|entry| {
            let Some(found) = resolved.iter().find(|resolved| &resolved.cidr == entry) else {
                return Vec::new();
            };
            found
                .sources
                .iter()
                .filter_map(|source| match source {
                    EntrySource::Set(name) => Some(name.clone()),
                    EntrySource::Own => None,
                })
                .collect()
        })
        .collect()
}

fn draw_entries(frame: &mut Frame, area: Rect, editor: &EditorState, sets: &SetsState) {
    let session = &editor.session;
    let block = Block::bordered().title(format!(
        " Allowlist of stage {} ({}) ",
        session.target.stage,
        session.entries.len()
    ));

    if session.entries.is_empty() {
        let text = match session.empty_choice {
            Some(EmptyChoice::Open) => {
                "No entries: the stage will be open to everyone. Press a to add a CIDR."
            }
            Some(EmptyChoice::Closed) => {
                "No entries: the stage will be closed to everyone. Press a to add a CIDR."
            }
            None => "No entries: the stage has no IP restriction. Press a to add a CIDR.",
        };
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
            area,
        );
        return;
    }

    let flags = session.flags();
    let parsed = session.parsed();
    let tags = set_tags(editor, sets);
    let width = session
        .entries
        .iter()
        .map(|entry| entry.chars().count())
        .max()
        .unwrap_or(0)
        .max(18);
    let label_width = session
        .entries
        .iter()
        .filter_map(|entry| sets.label_for(entry))
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    let items: Vec<ListItem> = session
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let label: String = sets
                .label_for(entry)
                .unwrap_or("")
                .chars()
                .take(label_width)
                .collect();
            let mut spans = vec![
                Span::raw(format!("{:>3}  {entry:<width$}", index + 1)),
                Span::styled(
                    format!("  {label:<label_width$}"),
                    Style::new().fg(Color::Cyan),
                ),
            ];
            if !tags[index].is_empty() {
                spans.push(Span::styled(
                    format!(" [set {}]", tags[index].join(", ")),
                    Style::new().fg(Color::Magenta),
                ));
            }
            match &parsed[index] {
                Err(error) => spans.push(Span::styled(
                    format!(" invalid: {error}"),
                    Style::new().fg(Color::Red),
                )),
                Ok(_) => {
                    for flag in &flags[index] {
                        spans.push(flag_span(flag));
                    }
                }
            }
            if !session.original_entries.contains(entry) {
                spans.push(Span::styled(" new", Style::new().fg(Color::Green)));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();

    let list = List::new(items)
        .block(block)
        .highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(editor.selected));
    frame.render_stateful_widget(list, area, &mut state);
}

/// The words shown beside an entry for one flag.
pub fn flag_text(flag: &EntryFlag) -> String {
    match flag {
        EntryFlag::Duplicate { of } => format!("duplicate of #{}", of + 1),
        EntryFlag::CoveredBy { index } => format!("covered by #{}", index + 1),
        EntryFlag::HostBitsSet { covers } => {
            format!("host bits set: covers {covers} (n normalises)")
        }
        EntryFlag::Unrestricted { ipv6: false } => "no IPv4 restriction".to_string(),
        EntryFlag::Unrestricted { ipv6: true } => "no IPv6 restriction".to_string(),
    }
}

fn flag_span(flag: &EntryFlag) -> Span<'static> {
    let color = match flag {
        EntryFlag::Unrestricted { .. } => Color::Red,
        _ => Color::Yellow,
    };
    Span::styled(format!(" {}", flag_text(flag)), Style::new().fg(color))
}

fn draw_input(frame: &mut Frame, area: Rect, editor: &EditorState) {
    let Some(input) = &editor.input else {
        return;
    };
    let title = match input.mode {
        InputMode::Add => " Add CIDR (Enter accepts, Esc cancels) ".to_string(),
        InputMode::Edit(index) => {
            format!(" Edit entry #{} (Enter accepts, Esc cancels) ", index + 1)
        }
        InputMode::Label(index) => {
            format!(" Label of entry #{} (Enter saves, Esc cancels) ", index + 1)
        }
    };
    let validation = if let InputMode::Label(_) = input.mode {
        Line::styled(
            "Labels live in .chalice/ipgate.json (or your user file without a project); empty removes it.",
            Style::new().fg(Color::Gray),
        )
    } else if input.text.trim().is_empty() {
        Line::styled(
            "Type an IPv4 or IPv6 address or CIDR, for example 203.0.113.7 or 2001:db8::/48.",
            Style::new().fg(Color::Gray),
        )
    } else {
        match parse_entry(&input.text) {
            Ok(entry) if entry.has_host_bits() => Line::styled(
                format!(
                    "{} has host bits set: it covers {}.",
                    entry.canonical(),
                    entry.covered_network()
                ),
                Style::new().fg(Color::Yellow),
            ),
            Ok(entry) if entry.is_unrestricted() => Line::styled(
                format!(
                    "{} allows every address of its family; saving asks for confirmation.",
                    entry.canonical()
                ),
                Style::new().fg(Color::Red),
            ),
            Ok(entry) => Line::styled(
                format!("valid: {}", entry.canonical()),
                Style::new().fg(Color::Green),
            ),
            Err(error) => Line::styled(error.to_string(), Style::new().fg(Color::Red)),
        }
    };
    let lines = vec![Line::from(format!("> {}_", input.text)), validation];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(title)),
        area,
    );
}

fn draw_prompt(frame: &mut Frame, area: Rect, editor: &EditorState, prompt: &Prompt) {
    let stage = &editor.session.target.stage;
    let (title, lines) = match prompt {
        Prompt::EmptyChoice => (
            "Last entry removed",
            vec![
                format!(
                    "The allowlist of stage {stage} is now empty. An empty aws:SourceIp list is never written."
                ),
                String::new(),
                "o  open: anyone may call the stage".to_string(),
                "c  closed: every caller is denied".to_string(),
                "Esc  undo the removal".to_string(),
            ],
        ),
        Prompt::ConfirmUnrestricted { ipv6 } => {
            let family = if *ipv6 { "IPv6" } else { "IPv4" };
            let network = if *ipv6 { "::/0" } else { "0.0.0.0/0" };
            (
                "Remove the restriction?",
                vec![
                    format!(
                        "{network} matches every {family} address: stage {stage} will have no {family} restriction."
                    ),
                    String::new(),
                    format!("y  save with no {family} restriction"),
                    "any other key  cancel".to_string(),
                ],
            )
        }
        Prompt::ConfirmLockout {
            address,
            reason,
            typed,
        } => (
            "This save locks you out",
            vec![
                format!(
                    "Your address {address} can call stage {stage} now, but not after this save: {reason}."
                ),
                String::new(),
                format!(
                    "Type {} and press Enter to save anyway, or Esc to cancel.",
                    editor.lockout_names()[0]
                ),
                format!("> {typed}_"),
            ],
        ),
        Prompt::Aggregate {
            after,
            merged,
            length_before,
            length_after,
        } => {
            let length = |length: &Option<usize>| {
                length.map_or("?".to_string(), |length| length.to_string())
            };
            let mut lines = vec![
                format!(
                    "{} entries become {}; the policy goes from {} to {} characters. The merged list admits exactly the same addresses.",
                    editor.session.entries.len(),
                    after.len(),
                    length(length_before),
                    length(length_after)
                ),
                String::new(),
            ];
            for (inputs, output) in merged.iter().take(8) {
                lines.push(format!("{} -> {output}", inputs.join(" + ")));
            }
            if merged.len() > 8 {
                lines.push(format!("... and {} more", merged.len() - 8));
            }
            lines.push(String::new());
            lines.push("y merge    any other key keep the list as it is".to_string());
            ("Merge networks?", lines)
        }
        Prompt::DiscardChanges => (
            "Discard edits?",
            vec![
                format!("The allowlist of stage {stage} has unsaved edits."),
                String::new(),
                "y  discard them and go back".to_string(),
                "any other key  keep editing".to_string(),
            ],
        ),
    };
    popup::draw_question(frame, area, title, &lines);
}

fn draw_test_address(
    frame: &mut Frame,
    area: Rect,
    input: &str,
    results: Option<&Result<Vec<AddressDecision>, String>>,
) {
    let mut lines = vec![
        Line::from(format!("Address: {input}_")),
        Line::styled(
            "Enter tests it against every stage of this REST API, now and after the save.",
            Style::new().fg(Color::Gray),
        ),
        Line::from(""),
    ];
    match results {
        None => {}
        Some(Err(error)) => lines.push(Line::styled(error.clone(), Style::new().fg(Color::Red))),
        Some(Ok(rows)) => {
            for AddressDecision { stage, now, after } in rows {
                lines.push(Line::from(Span::styled(
                    format!("Stage {stage}"),
                    Style::new().add_modifier(Modifier::BOLD),
                )));
                lines.push(decision_line("  now:        ", now));
                lines.push(decision_line("  after save: ", after));
            }
        }
    }
    let block = Block::bordered().title(" Test an address ");
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

fn decision_line(label: &str, decision: &Decision) -> Line<'static> {
    let color = match decision.outcome {
        Outcome::Allowed => Color::Green,
        Outcome::Denied => Color::Red,
        Outcome::Partial | Outcome::Unknown => Color::Yellow,
    };
    Line::from(vec![
        Span::raw(label.to_string()),
        Span::styled(decision.reason.clone(), Style::new().fg(color)),
    ])
}
