//! The named-set screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use crate::core::sets::Origin;
use crate::model::Inventory;
use crate::ui::sets::{SetEditor, SetInput, SetsScreen};

pub fn draw(frame: &mut Frame, area: Rect, screen: &SetsScreen, inventory: &Inventory) {
    let input_height = if screen.input.is_some() { 3 } else { 0 };
    let [main, input] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(input_height)]).areas(area);

    match &screen.editor {
        Some(editor) => draw_editor(frame, main, editor),
        None => draw_list(frame, main, screen, inventory),
    }
    if let Some((mode, text)) = &screen.input {
        let title = match mode {
            SetInput::NewSet => " Name of the new set ",
            SetInput::AddEntry => " Add a network to the set ",
            SetInput::Label(_) => " Label ",
        };
        let block = Block::bordered().title(title);
        frame.render_widget(Paragraph::new(format!("> {text}_")).block(block), input);
    }
}

fn origin_word(origin: Option<Origin>) -> &'static str {
    match origin {
        Some(Origin::Personal) => "personal",
        _ => "project",
    }
}

fn draw_list(frame: &mut Frame, area: Rect, screen: &SetsScreen, inventory: &Inventory) {
    let config = &inventory.sets.merged.config;
    let block = Block::bordered().title(format!(" Named sets ({}) ", config.sets.len()));
    if config.sets.is_empty() {
        let text = "No named sets yet. Press n to create one; sets live in .chalice/ipgate.json.";
        frame.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: false }).block(block),
            area,
        );
        return;
    }

    let items: Vec<ListItem> = config
        .sets
        .iter()
        .map(|set| {
            let stages = config.stages_including(&set.name);
            let stages = if stages.is_empty() {
                "no stage".to_string()
            } else {
                stages.join(", ")
            };
            ListItem::new(Line::from(vec![
                Span::styled(
                    format!("{:<20}", set.name),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!(
                    " {:<8} {:>3} {:<9} ",
                    origin_word(inventory.sets.merged.origin_of(&set.name)),
                    set.entries.len(),
                    if set.entries.len() == 1 {
                        "network"
                    } else {
                        "networks"
                    }
                )),
                Span::styled(format!("used by {stages}"), Style::new().fg(Color::Gray)),
            ]))
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
    let mut state = ListState::default().with_selected(Some(screen.selected));
    frame.render_stateful_widget(list, area, &mut state);
}

fn draw_editor(frame: &mut Frame, area: Rect, editor: &SetEditor) {
    let stages = if editor.stages.is_empty() {
        "no stage yet".to_string()
    } else {
        editor.stages.join(", ")
    };
    let modified = if editor.is_dirty() {
        "  (modified)"
    } else {
        ""
    };
    let title = format!(
        " Set {} ({} file){modified} ",
        editor.name,
        origin_word(Some(editor.origin))
    );
    let [info, list_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!("Included by: {stages}. Saving applies the change to each of them."),
            Style::new().fg(Color::Gray),
        )),
        info,
    );

    let items: Vec<ListItem> = editor
        .entries
        .iter()
        .map(|entry| {
            let new = if editor.original.contains(entry) {
                ""
            } else {
                "  new"
            };
            ListItem::new(Line::from(vec![
                Span::raw(format!("{:<24}", entry.cidr)),
                Span::styled(
                    entry.label.clone().unwrap_or_default(),
                    Style::new().fg(Color::Cyan),
                ),
                Span::styled(new, Style::new().fg(Color::Green)),
            ]))
        })
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(title))
        .highlight_style(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
        )
        .highlight_symbol("> ");
    let mut state = ListState::default().with_selected(Some(editor.selected));
    frame.render_stateful_widget(list, list_area, &mut state);
}
