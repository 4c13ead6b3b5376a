//! Line diffs of policy text for the preview.

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffLine {
    Same(String),
    Added(String),
    Removed(String),
}

/// Diffs two texts line by line.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    similar::TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| {
            let text = change.value().trim_end_matches(['\r', '\n']).to_string();
            match change.tag() {
                similar::ChangeTag::Equal => DiffLine::Same(text),
                similar::ChangeTag::Insert => DiffLine::Added(text),
                similar::ChangeTag::Delete => DiffLine::Removed(text),
            }
        })
        .collect()
}
