//! The home screen: one row per REST API stage.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use crate::model::{StageRow, SyncStatus};
use crate::ui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let title = match (&app.home.filtering, app.home.filter.is_empty()) {
        (true, _) => format!(" Stages  /{}_ ", app.home.filter),
        (false, false) => format!(" Stages  filter: {} (Esc clears) ", app.home.filter),
        (false, true) => format!(" Stages ({}) ", app.rows.len()),
    };
    let block = Block::bordered().title(title);

    if app.rows.is_empty() {
        let text = if app.home.filter.is_empty() {
            "No REST APIs or Chalice stages found yet."
        } else {
            "No stage matches the filter."
        };
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }

    let header = Row::new([
        "API",
        "ID",
        "Stage",
        "Chalice",
        "CIDRs",
        "Last deployed",
        "Status",
    ])
    .style(Style::new().fg(Color::Gray).add_modifier(Modifier::BOLD));
    let rows = app.rows.iter().map(table_row);
    // Stage and Chalice names are short, so they get what they need and the API name the rest.
    let column_width = |header: &str, value: fn(&StageRow) -> usize| {
        let widest = app.rows.iter().map(value).max().unwrap_or(0);
        Constraint::Length(widest.clamp(header.len(), 24) as u16)
    };
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(10),
        column_width("Stage", |row| row.stage.chars().count()),
        column_width("Chalice", |row| {
            row.chalice_stage
                .as_ref()
                .map_or(0, |name| name.chars().count())
        }),
        Constraint::Length(6),
        Constraint::Length(16),
        Constraint::Length(12),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("> ");

    let mut state = TableState::default().with_selected(Some(app.home.selected));
    frame.render_stateful_widget(table, area, &mut state);

    if let Some(form) = &app.home.switch {
        let cursor = |focused: bool| if focused { "_" } else { "" };
        let lines = [
            format!("Profile: {}{}", form.profile, cursor(!form.region_focused)),
            format!("Region:  {}{}", form.region, cursor(form.region_focused)),
            String::new(),
            "Tab switches field, Enter connects, Esc cancels. An empty field uses the default chain.".to_string(),
        ];
        super::popup::draw_question(frame, area, "Switch profile and region", &lines);
    }
}

fn table_row(row: &StageRow) -> Row<'static> {
    let stage = if row.stage.is_empty() {
        "...".to_string()
    } else {
        row.stage.clone()
    };
    Row::new(vec![
        Cell::from(row.api_name.clone().unwrap_or_else(|| "-".to_string())),
        Cell::from(row.rest_api_id.clone().unwrap_or_else(|| "-".to_string())),
        Cell::from(stage),
        Cell::from(row.chalice_stage.clone().unwrap_or_default()),
        Cell::from(row.allowlist_summary.clone()),
        Cell::from(row.last_deployed.map(format_time).unwrap_or_default()),
        Cell::from(status_span(&row.status)),
    ])
}

fn status_span(status: &SyncStatus) -> Line<'static> {
    let color = match status {
        SyncStatus::InSync => Color::Green,
        SyncStatus::Differ | SyncStatus::Error(_) => Color::Red,
        SyncStatus::LocalOnly | SyncStatus::NotDeployed => Color::Yellow,
        SyncStatus::LiveOnly => Color::Blue,
        SyncStatus::Loading => Color::DarkGray,
    };
    Line::from(Span::styled(
        status.label().to_string(),
        Style::new().fg(color),
    ))
}

/// `2026-12-04 19:55` in UTC.
pub fn format_time(time: SystemTime) -> String {
    let time = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}
