//! The batch screen: every stage a set change reaches, its progress and the summary.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, List, ListItem, ListState, Paragraph, Wrap};

use crate::batch::StageOutcome;
use crate::ui::batch::{BatchPhase, BatchView, StageState};

use super::json::diff_line;

pub fn draw(frame: &mut Frame, area: Rect, view: &BatchView) {
    let plan = &view.plan;
    let [header, gauge_area, list_area, detail_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length((plan.stages.len() as u16 + 2).min(area.height / 2)),
        Constraint::Min(3),
    ])
    .areas(area);

    let resumed = if plan.resumed { " (resumed)" } else { "" };
    let header_lines = vec![
        Line::from(Span::styled(
            format!(
                "Batch {}{resumed}: set {} {}",
                plan.id,
                plan.change.set,
                plan.change.summary()
            ),
            Style::new().add_modifier(Modifier::BOLD),
        )),
        Line::from(format!(
            "{} of {} stages change; {} paced at one every 5 s.",
            plan.stages_to_change(),
            plan.stages.len(),
            match plan.deployments() {
                1 => "1 deployment".to_string(),
                count => format!("{count} deployments"),
            }
        )),
    ];
    frame.render_widget(Paragraph::new(header_lines), header);

    let total = plan.stages.len().max(1);
    let eta = match view.estimated_remaining {
        Some(remaining) => format!(", about {} s left (estimate)", remaining.as_secs()),
        None => String::new(),
    };
    let gauge = Gauge::default()
        .gauge_style(Style::new().fg(Color::Cyan))
        .ratio((view.done as f64 / total as f64).clamp(0.0, 1.0))
        .label(format!("{}/{} stages{eta}", view.done, plan.stages.len()));
    frame.render_widget(gauge, gauge_area);

    let items: Vec<ListItem> = plan
        .stages
        .iter()
        .zip(&view.stages)
        .map(|(stage, state)| {
            let (mark, color, detail) = match state {
                StageState::Pending => ("  ", Color::DarkGray, pending_detail(stage)),
                StageState::Running => ("..", Color::Cyan, "running".to_string()),
                StageState::Finished(StageOutcome::Applied { deployment_id }) => (
                    "ok",
                    Color::Green,
                    deployment_id
                        .as_ref()
                        .map_or("applied".to_string(), |id| format!("deployment {id}")),
                ),
                StageState::Finished(StageOutcome::Skipped(reason)) => {
                    ("--", Color::Gray, reason.clone())
                }
                StageState::Finished(StageOutcome::Failed(error)) => {
                    ("!!", Color::Red, error.clone())
                }
            };
            ListItem::new(Line::from(vec![
                Span::styled(format!("[{mark}] "), Style::new().fg(color)),
                Span::raw(format!("{:<14} {}  ", stage.key, stage.title)),
                Span::styled(detail, Style::new().fg(color)),
            ]))
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" Stages "))
        .highlight_style(Style::new().bg(Color::DarkGray))
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(view.selected));
    frame.render_stateful_widget(list, list_area, &mut state);

    draw_detail(frame, detail_area, view);
}

fn pending_detail(stage: &crate::batch::BatchStage) -> String {
    if let Some(reason) = &stage.blocked {
        return format!("blocked: {reason}");
    }
    if let Some(reason) = &stage.lockout {
        return format!("locks you out: {reason}");
    }
    match &stage.note {
        Some(note) => note.clone(),
        None => format!("{} steps", stage.steps.len()),
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, view: &BatchView) {
    let mut lines = Vec::new();
    match &view.phase {
        BatchPhase::Confirm { typed } if view.has_lockout() => {
            lines.push(Line::styled(
                format!(
                    "This change takes away your own access to a stage. Type the set name ({}) and press Enter to apply anyway: {typed}_",
                    view.plan.change.set
                ),
                Style::new().fg(Color::Red),
            ));
        }
        BatchPhase::Confirm { .. } => {
            lines.push(Line::styled(
                "y applies the change to every stage above; any other key cancels.",
                Style::new().fg(Color::Yellow),
            ));
        }
        BatchPhase::Running if view.stop_requested => {
            lines.push(Line::from("Stopping after the current stage..."))
        }
        BatchPhase::Running => lines.push(Line::from(
            "Running. x stops after the current stage; the journal lets you resume.",
        )),
        BatchPhase::Finished(summary) => {
            for line in summary.to_string().lines() {
                lines.push(Line::from(line.to_string()));
            }
        }
    }

    if let Some(stage) = view.plan.stages.get(view.selected) {
        for warning in &stage.warnings {
            lines.push(Line::styled(
                format!("! {warning}"),
                Style::new().fg(Color::Yellow),
            ));
        }
        lines.push(Line::styled(
            format!("Diff of {} (- before, + after):", stage.key),
            Style::new().fg(Color::Gray),
        ));
        lines.extend(
            stage
                .diff
                .iter()
                .filter(|line| !matches!(line, crate::core::diff::DiffLine::Same(_)))
                .map(diff_line),
        );
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered()),
        area,
    );
}
