//! Centered boxes drawn over the current view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::ui::keys::KeyHelp;

/// A rectangle of at most `width` x `height`, centered in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

pub fn draw_help(frame: &mut Frame, area: Rect, keys: &[KeyHelp]) {
    let lines: Vec<Line> = keys
        .iter()
        .map(|(key, action)| {
            Line::from(vec![
                Span::styled(
                    format!("{key:>16}  "),
                    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                Span::raw(*action),
            ])
        })
        .collect();
    let height = lines.len() as u16 + 2;
    let popup = centered(area, 76, height);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(" Keys (any key closes) ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

pub fn draw_question(frame: &mut Frame, area: Rect, title: &str, lines: &[String]) {
    let width = 70.min(area.width);
    let text: Vec<Line> = lines.iter().map(|line| Line::from(line.as_str())).collect();
    let inner_width = width.saturating_sub(2).max(1) as usize;
    let wrapped: usize = lines
        .iter()
        .map(|line| line.chars().count().max(1).div_ceil(inner_width))
        .sum();
    let popup = centered(area, width, wrapped as u16 + 2);
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(Style::new().fg(Color::Yellow))
        .title(format!(" {title} "));
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
        popup,
    );
}
