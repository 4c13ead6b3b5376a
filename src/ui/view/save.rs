//! The preview, the save confirmation and the save progress.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Tabs, Wrap};
use serde_json::Value;

use crate::core::diff::{DiffLine, diff_lines};
use crate::core::live::same_meaning;
use crate::core::policy::{POLICY_MAX_CHARS, policy_length, to_pretty};
use crate::history::PolicyVersion;
use crate::model::SetsState;
use crate::save::{Conflict, StepStatus};
use crate::ui::editor::{ConfirmState, EditorState, PreviewTab, SaveRun};

use super::json::{diff_line, highlight_line};

pub fn draw_preview(
    frame: &mut Frame,
    area: Rect,
    editor: &EditorState,
    tab: PreviewTab,
    scroll: u16,
    sets: &SetsState,
) {
    let session = &editor.session;
    let proposed = session.proposed_document();
    let mut summary = Vec::new();
    if let Ok(document) = &proposed {
        summary.push(length_line(document.as_ref()));
    }
    if let Ok((report, warnings)) = session.access_after() {
        summary.push(Line::from(vec![
            Span::styled("After save: ", Style::new().fg(Color::Gray)),
            Span::raw(report.summary()),
        ]));
        summary.extend(
            warnings
                .iter()
                .map(|warning| Line::styled(format!("! {warning}"), Style::new().fg(Color::Red))),
        );
    }

    let width = usize::from(area.width.max(1));
    let wrapped: usize = summary
        .iter()
        .map(|line| line.width().max(1).div_ceil(width))
        .sum();
    let summary_height = (wrapped as u16).min(area.height / 3);
    let [tabs_area, summary_area, body_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(summary_height),
        Constraint::Min(1),
    ])
    .areas(area);

    let titles: Vec<&str> = PreviewTab::ALL.iter().map(|tab| tab.title()).collect();
    let selected = PreviewTab::ALL
        .iter()
        .position(|candidate| *candidate == tab)
        .unwrap_or(0);
    frame.render_widget(
        Tabs::new(titles)
            .select(selected)
            .highlight_style(Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)),
        tabs_area,
    );

    let proposed = match proposed {
        Ok(document) => document,
        Err(error) => {
            let text = Line::styled(
                format!("The edit cannot be applied: {error}"),
                Style::new().fg(Color::Red),
            );
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body_area);
            return;
        }
    };
    frame.render_widget(
        Paragraph::new(summary).wrap(Wrap { trim: false }),
        summary_area,
    );

    let lines = match tab {
        PreviewTab::Policy => policy_lines(proposed.as_ref()),
        PreviewTab::DiffLive => live_diff_lines(editor, proposed.as_ref()),
        PreviewTab::DiffLocal => local_diff_lines(editor, proposed.as_ref()),
    };
    let lines = lines
        .into_iter()
        .map(|line| with_label(line, sets))
        .collect::<Vec<_>>();
    let block = Block::bordered().title(format!(
        " Policy save would write for stage {} ",
        session.target.stage
    ));
    frame.render_widget(
        Paragraph::new(lines).block(block).scroll((scroll, 0)),
        body_area,
    );
}

/// Appends `# label` to a line that lists a labelled CIDR, since policy JSON has no room for it.
fn with_label(mut line: Line<'static>, sets: &SetsState) -> Line<'static> {
    let text: String = line
        .spans
        .iter()
        .map(|span| span.content.as_ref())
        .collect();
    let label = text
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|value| value.contains('/'))
        .find_map(|value| sets.label_for(value));
    if let Some(label) = label {
        line.spans.push(Span::styled(
            format!("  # {label}"),
            Style::new().fg(Color::Cyan),
        ));
    }
    line
}

fn length_line(proposed: Option<&Value>) -> Line<'static> {
    let Some(document) = proposed else {
        return Line::styled(
            "No policy: the REST API would accept every caller.",
            Style::new().fg(Color::Yellow),
        );
    };
    let length = policy_length(document);
    let style = if length > POLICY_MAX_CHARS {
        Style::new().fg(Color::Red)
    } else {
        Style::new().fg(Color::Green)
    };
    let verdict = if length > POLICY_MAX_CHARS {
        " - over API Gateway's limit, save is refused"
    } else {
        ""
    };
    Line::styled(
        format!("Minified length: {length} / {POLICY_MAX_CHARS} characters{verdict}"),
        style,
    )
}

fn policy_lines(proposed: Option<&Value>) -> Vec<Line<'static>> {
    match proposed {
        Some(document) => to_pretty(document).lines().map(highlight_line).collect(),
        None => vec![Line::from("(no policy)")],
    }
}

fn live_diff_lines(editor: &EditorState, proposed: Option<&Value>) -> Vec<Line<'static>> {
    let session = &editor.session;
    if !session.live_known {
        return vec![Line::from(
            "The live policy is unknown: not connected to AWS, or the stage is not deployed.",
        )];
    }
    let verdict = if same_meaning(session.live.as_ref(), proposed, &session.target.api) {
        Line::styled(
            "Same meaning as the live policy: save changes nothing live.",
            Style::new().fg(Color::Green),
        )
    } else {
        Line::styled(
            "Differs from the live policy (- live, + after save):",
            Style::new().fg(Color::Yellow),
        )
    };
    let live_text = session.live.as_ref().map(to_pretty).unwrap_or_default();
    let proposed_text = proposed.map(to_pretty).unwrap_or_default();
    let mut lines = vec![verdict];
    lines.extend(diff_lines(&live_text, &proposed_text).iter().map(diff_line));
    lines
}

fn local_diff_lines(editor: &EditorState, proposed: Option<&Value>) -> Vec<Line<'static>> {
    let session = &editor.session;
    if session.target.chalice_stage.is_none() {
        return vec![Line::from(
            "This REST API stage belongs to no Chalice stage of the project: there is no local file.",
        )];
    }
    let (header, local_text) = match &session.local {
        Some(file) => (
            format!(
                "- {} on disk, + after save:",
                editor.display_path(&file.path)
            ),
            to_pretty(&file.document),
        ),
        None => (
            "No policy file yet; save creates it with:".to_string(),
            String::new(),
        ),
    };
    let proposed_text = proposed.map(to_pretty).unwrap_or_default();
    let mut lines = vec![Line::styled(header, Style::new().fg(Color::Gray))];
    lines.extend(
        diff_lines(&local_text, &proposed_text)
            .iter()
            .map(diff_line),
    );
    lines
}

pub fn draw_confirm(frame: &mut Frame, area: Rect, editor: &EditorState, confirm: &ConfirmState) {
    let root = editor.project_root.as_deref();
    let mut lines = vec![
        Line::styled(
            "Save will run these steps, in order:",
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::from(""),
    ];
    for (index, step) in confirm.plan.steps.iter().enumerate() {
        lines.push(Line::from(format!(
            "  {}. {}",
            index + 1,
            step.describe(root)
        )));
    }
    lines.push(Line::from(""));
    let (added, removed) = editor.session.changes();
    let mut change: Vec<String> = added.iter().map(|entry| format!("+{entry}")).collect();
    change.extend(removed.iter().map(|entry| format!("-{entry}")));
    let change = match &editor.session.description_override {
        Some(description) => description.clone(),
        None if change.is_empty() => "no entry changes".to_string(),
        None => change.join(" "),
    };
    lines.push(Line::from(format!("Change: {change}")));
    if let Ok((report, _)) = editor.session.access_after() {
        lines.push(Line::from(format!("After save: {}", report.summary())));
    }
    lines.push(Line::from(format!(
        "Policy length: {} / {POLICY_MAX_CHARS} characters.",
        confirm.plan.policy_length
    )));
    if !confirm.shared_with.is_empty() {
        let state = if confirm.own_file { "on" } else { "off" };
        lines.push(Line::styled(
            format!(
                "The policy file is shared with stage(s) {}. Press o to give this stage its own file (now {state}).",
                confirm.shared_with.join(", ")
            ),
            Style::new().fg(Color::Yellow),
        ));
    }
    for note in confirm.plan.notes.iter().chain(&confirm.warnings) {
        lines.push(Line::styled(
            format!("! {note}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(
            "y",
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Span::raw(" run them    any other key cancels"),
    ]));

    let block = Block::bordered()
        .title(" Confirm save ")
        .border_style(Style::new().fg(Color::Yellow));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

/// What changed under ipgate, the user's own change, and the way forward.
fn conflict_lines(editor: &EditorState, conflict: &Conflict) -> Vec<Line<'static>> {
    let session = &editor.session;
    let (loaded, current) = match conflict {
        Conflict::LivePolicy { current, .. } => (
            session.live.as_ref().map(to_pretty),
            current.as_ref().map(to_pretty),
        ),
        Conflict::LocalFile { current, .. } => (
            session.local.as_ref().map(|file| file.text.clone()),
            current.clone(),
        ),
        Conflict::LocalFileExists { current, .. } => (None, Some(current.clone())),
        Conflict::ConfigFile { .. } => (None, None),
    };

    let (added, removed) = session.changes();
    let mut change: Vec<String> = added.iter().map(|entry| format!("+{entry}")).collect();
    change.extend(removed.iter().map(|entry| format!("-{entry}")));

    let mut lines = vec![
        Line::styled(
            format!("Stopped: {conflict}. Nothing was overwritten."),
            Style::new().fg(Color::Red),
        ),
        Line::from(format!(
            "Your edit: {}",
            if change.is_empty() {
                "no entry changes".to_string()
            } else {
                change.join(" ")
            }
        )),
        Line::styled(
            "What changed (- as loaded, + now):",
            Style::new().fg(Color::Gray),
        ),
    ];
    let loaded = loaded.unwrap_or_else(|| "(nothing)".to_string());
    let current = current.unwrap_or_else(|| "(nothing)".to_string());
    lines.extend(
        diff_lines(&loaded, &current)
            .iter()
            .filter(|line| !matches!(line, DiffLine::Same(_)))
            .map(diff_line),
    );
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Press a to apply your edit on top of the current version, Esc to cancel.",
    ));
    lines
}

pub fn draw_progress(
    frame: &mut Frame,
    area: Rect,
    editor: &EditorState,
    run: &SaveRun,
    sets: &SetsState,
) {
    let mut lines = Vec::new();
    for (step, status) in run.plan.steps.iter().zip(&run.statuses) {
        let (mark, style) = match status {
            StepStatus::Pending => ("  ", Style::new().fg(Color::DarkGray)),
            StepStatus::Running => ("..", Style::new().fg(Color::Cyan)),
            StepStatus::Done(_) => ("ok", Style::new().fg(Color::Green)),
            StepStatus::Failed(_) => ("!!", Style::new().fg(Color::Red)),
        };
        let mut spans = vec![
            Span::styled(format!(" [{mark}] "), style),
            Span::raw(step.describe(editor.project_root.as_deref())),
        ];
        if let StepStatus::Done(Some(detail)) = status {
            spans.push(Span::styled(
                format!("  {detail}"),
                Style::new().fg(Color::Green),
            ));
        }
        lines.push(Line::from(spans));
        if let StepStatus::Failed(error) = status {
            lines.push(Line::styled(
                format!("       {error}"),
                Style::new().fg(Color::Red),
            ));
        }
    }

    lines.push(Line::from(""));
    if run.is_running() {
        lines.push(Line::from("Saving..."));
    } else if let Some(conflict) = &run.conflict {
        lines.extend(
            conflict_lines(editor, conflict)
                .into_iter()
                .map(|line| with_label(line, sets)),
        );
    } else if run.failed_step().is_some() {
        lines.push(Line::styled(
            format!("Stopped: {}.", run.summary()),
            Style::new().fg(Color::Red),
        ));
        lines.push(Line::from(
            "Press r to retry from the failed step, Esc to go back to the editor.",
        ));
    } else if run.is_complete() {
        lines.push(Line::styled(
            format!("Done: {}.", run.summary()),
            Style::new().fg(Color::Green),
        ));
        lines.push(Line::from(
            "Press Enter or Esc to return to the stage list.",
        ));
    }

    let block = Block::bordered().title(" Saving ");
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        area,
    );
}

pub fn draw_history(
    frame: &mut Frame,
    area: Rect,
    editor: &EditorState,
    versions: &[PolicyVersion],
    selected: usize,
    sets: &SetsState,
) {
    let [list_area, diff_area] = Layout::vertical([
        Constraint::Length((versions.len() as u16 + 2).min(area.height / 2)),
        Constraint::Min(3),
    ])
    .areas(area);

    let items: Vec<ListItem> = versions
        .iter()
        .map(|version| {
            let deployment = version.deployment_id.as_deref().unwrap_or("none");
            let policy = if version.policy.is_some() {
                "policy"
            } else {
                "no policy"
            };
            ListItem::new(format!(
                "{} UTC  {:<15}  deployment {deployment:<10}  {policy}",
                super::format_time(version.recorded_at),
                version.reason
            ))
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" Earlier live policies, newest first (Enter rolls back) "))
        .highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(selected));
    frame.render_stateful_widget(list, list_area, &mut state);

    let Some(version) = versions.get(selected) else {
        return;
    };
    let old_text = version
        .policy
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .map(|document| to_pretty(&document))
        .unwrap_or_default();
    let current_text = editor
        .session
        .current_document()
        .map(to_pretty)
        .unwrap_or_default();
    // Only the changed lines: a whole policy does not fit beside the version list.
    let lines: Vec<Line> = diff_lines(&current_text, &old_text)
        .iter()
        .filter(|line| !matches!(line, DiffLine::Same(_)))
        .map(|line| with_label(diff_line(line), sets))
        .collect();
    let block = Block::bordered().title(" Changed lines: - current policy, + this version ");
    frame.render_widget(Paragraph::new(lines).block(block), diff_area);
}
