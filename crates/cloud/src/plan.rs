//! What the tools print for each thing they move: the plan's action (`+` new, `*` changed,
//! `=` unchanged, `!` error) and human-readable sizes. Shared by `upload` and `raw`.

use serde::Serialize;

/// One line of a plan (rclone `check --combined` style).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    New,
    Changed,
    Unchanged,
    Error,
}

impl Action {
    pub fn symbol(self) -> char {
        match self {
            Action::New => '+',
            Action::Changed => '*',
            Action::Unchanged => '=',
            Action::Error => '!',
        }
    }

    /// New and changed targets are the ones a run writes.
    pub fn moves(self) -> bool {
        matches!(self, Action::New | Action::Changed)
    }
}

/// `12.3 KB`
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_sizes() {
        let s: String = [
            Action::New,
            Action::Changed,
            Action::Unchanged,
            Action::Error,
        ]
        .map(Action::symbol)
        .iter()
        .collect();
        assert_eq!(s, "+*=!");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(12_595), "12.3 KB");
        assert_eq!(human(5 << 20), "5.0 MB");
    }
}
