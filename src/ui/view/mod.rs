//! Drawing. Every function here reads the state and draws it; none changes anything.

mod batch;
mod editor;
mod home;
mod json;
mod popup;
mod save;
mod sets;

pub use home::format_time;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::Connection;

use super::app::{App, MyIp, Screen};
use super::keys::{current_keys, help_lines};

/// Below this size the layout cannot show a usable table, so a message is drawn instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(frame, area);
        return;
    }

    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);

    draw_header(frame, header, app);
    match &app.screen {
        Screen::Home => home::draw(frame, body, app),
        Screen::Editor(editor) => editor::draw(frame, body, editor, &app.inventory),
        Screen::Sets(screen) => sets::draw(frame, body, screen, &app.inventory),
        Screen::Batch(view) => batch::draw(frame, body, view),
    }
    draw_status(frame, status, app);
    draw_footer(frame, footer, app);

    if app.help_open {
        popup::draw_help(frame, body, &help_lines(app));
    }
    if app.quit_prompt {
        popup::draw_question(
            frame,
            body,
            "Quit?",
            &[
                "You have unsaved edits. Quit and lose them?".to_string(),
                String::new(),
                "y quit    any other key stay".to_string(),
            ],
        );
    }
}

fn draw_too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("Terminal too small"),
        Line::from(format!(
            "{}x{}, need {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        )),
    ];
    frame.render_widget(
        Paragraph::new(text).style(Style::new().fg(Color::Yellow)),
        area,
    );
}

fn draw_header(frame: &mut Frame, area: Rect, app: &App) {
    let info = &app.connection_info;
    let label = Style::new().fg(Color::DarkGray);
    let value = Style::new().fg(Color::White).add_modifier(Modifier::BOLD);
    let project = match &app.inventory.project {
        Some(project) => format!("{} ({} stages)", project.app_name, project.stages.len()),
        None => "none (live only)".to_string(),
    };

    let first = Line::from(vec![
        Span::styled(
            " ipgate ",
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::styled("  profile ", label),
        Span::styled(
            info.profile
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            value,
        ),
        Span::styled("  region ", label),
        Span::styled(
            info.region.clone().unwrap_or_else(|| "not set".to_string()),
            value,
        ),
        Span::styled("  project ", label),
        Span::styled(project, value),
    ]);

    let spinner = if app.is_busy() {
        SPINNER[app.spinner_frame % SPINNER.len()]
    } else {
        " "
    };
    let my_ip = match &app.my_ip {
        MyIp::Known(address) => Span::styled(address.to_string(), value),
        MyIp::Looking => Span::styled("looking up...", Style::new().fg(Color::Yellow)),
        MyIp::Unknown(_) => Span::styled("unknown", Style::new().fg(Color::Yellow)),
    };
    let mut second = vec![
        Span::styled(format!(" {spinner} "), Style::new().fg(Color::Cyan)),
        Span::styled("endpoint ", label),
        Span::styled(
            info.endpoint.clone().unwrap_or_else(|| "AWS".to_string()),
            value,
        ),
        Span::styled("  my IP ", label),
        my_ip,
        Span::raw("  "),
    ];
    if app.read_only {
        second.push(Span::styled(
            "read-only  ",
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    }
    second.push(match &app.inventory.connection {
        Connection::Connecting => Span::styled("connecting...", Style::new().fg(Color::Yellow)),
        Connection::Online => Span::styled("online", Style::new().fg(Color::Green)),
        Connection::LocalOnly { reason } => Span::styled(
            format!("local only: {reason}"),
            Style::new().fg(Color::Yellow),
        ),
    });

    frame.render_widget(Paragraph::new(vec![first, Line::from(second)]), area);
}

fn draw_status(frame: &mut Frame, area: Rect, app: &App) {
    let Some(status) = &app.status else {
        return;
    };
    let style = if status.is_error {
        Style::new().fg(Color::Red)
    } else {
        Style::new().fg(Color::Green)
    };
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {}", status.text), style)),
        area,
    );
}

/// Draws as many of the current view's keys as fit, always ending with `? help`.
fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let help = (" ?", " help ");
    let mut budget = usize::from(area.width).saturating_sub(help.0.len() + help.1.len());
    let mut spans = Vec::new();
    for (key, action) in current_keys(app).iter().filter(|(key, _)| *key != "?") {
        let key = format!(" {key}");
        let action = format!(" {action} ");
        let width = key.chars().count() + action.chars().count();
        if width > budget {
            break;
        }
        budget -= width;
        spans.push(Span::styled(
            key,
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(action, Style::new().fg(Color::Gray)));
    }
    spans.push(Span::styled(
        help.0,
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
    ));
    spans.push(Span::styled(help.1, Style::new().fg(Color::Gray)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
