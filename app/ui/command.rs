//! Every command the keyboard reaches, with its label, shortcut and the permission it needs — one
//! table (rerun's `UICommand`) that the shell, the tab bar, the help window and the tests share.

use egui::{Key, KeyboardShortcut, Modifiers};

use super::labels;
use crate::domain::Permission;

/// A screen of the app, one per tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    #[default]
    Census,
    Kit,
    Register,
    Scan,
    Volume,
    Episode,
    Pages,
    Entry,
    Reconcile,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiCommand {
    Show(Tab),
    /// Focus the census search.
    Search,
    /// Open the census import dialog.
    ImportCensus,
    /// Lock the screen now.
    Lock,
    /// Show this table.
    Help,
}

impl UiCommand {
    pub const ALL: [UiCommand; 14] = [
        UiCommand::Show(Tab::Census),
        UiCommand::Show(Tab::Kit),
        UiCommand::Show(Tab::Register),
        UiCommand::Show(Tab::Scan),
        UiCommand::Show(Tab::Volume),
        UiCommand::Show(Tab::Episode),
        UiCommand::Show(Tab::Pages),
        UiCommand::Show(Tab::Entry),
        UiCommand::Show(Tab::Reconcile),
        UiCommand::Show(Tab::Reference),
        UiCommand::Search,
        UiCommand::ImportCensus,
        UiCommand::Lock,
        UiCommand::Help,
    ];

    /// The tabs in order (F1…F10: the scan station is reachable without a mouse).
    pub const TABS: [Tab; 10] = [
        Tab::Census,
        Tab::Kit,
        Tab::Register,
        Tab::Scan,
        Tab::Volume,
        Tab::Episode,
        Tab::Pages,
        Tab::Entry,
        Tab::Reconcile,
        Tab::Reference,
    ];

    /// The words on the button, tab or menu entry (and its accessible label).
    pub fn label(self) -> &'static str {
        match self {
            UiCommand::Show(tab) => match tab {
                Tab::Census => labels::CENSUS_TAB,
                Tab::Kit => labels::KIT_TAB,
                Tab::Register => labels::REGISTER_TAB,
                Tab::Scan => labels::SCAN_TAB,
                Tab::Volume => labels::VOLUME_TAB,
                Tab::Episode => labels::EPISODE_TAB,
                Tab::Pages => labels::PAGES_TAB,
                Tab::Entry => labels::ENTRY_TAB,
                Tab::Reconcile => labels::RECONCILE_TAB,
                Tab::Reference => labels::REFERENCE_TAB,
            },
            UiCommand::Search => labels::SEARCH_LABEL,
            UiCommand::ImportCensus => labels::IMPORT_MENU_BUTTON,
            UiCommand::Lock => labels::LOCK_BUTTON,
            UiCommand::Help => labels::HELP_BUTTON,
        }
    }

    pub fn shortcut(self) -> KeyboardShortcut {
        let plain = |key| KeyboardShortcut::new(Modifiers::NONE, key);
        let command = |key| KeyboardShortcut::new(Modifiers::COMMAND, key);
        match self {
            UiCommand::Show(tab) => plain(match tab {
                Tab::Census => Key::F1,
                Tab::Kit => Key::F2,
                Tab::Register => Key::F3,
                Tab::Scan => Key::F4,
                Tab::Volume => Key::F5,
                Tab::Episode => Key::F6,
                Tab::Pages => Key::F7,
                Tab::Entry => Key::F8,
                Tab::Reconcile => Key::F9,
                Tab::Reference => Key::F10,
            }),
            UiCommand::Search => command(Key::F),
            UiCommand::ImportCensus => command(Key::I),
            UiCommand::Lock => command(Key::L),
            UiCommand::Help => plain(Key::F12),
        }
    }

    /// What the logged-in person's role must allow; `None`: everyone logged in.
    pub fn permission(self) -> Option<Permission> {
        match self {
            UiCommand::Show(tab) => match tab {
                Tab::Census | Tab::Volume | Tab::Episode => None,
                Tab::Kit => Some(Permission::PrintKit),
                Tab::Register => Some(Permission::Register),
                Tab::Scan => Some(Permission::ScanStation),
                Tab::Pages => Some(Permission::FilePages),
                Tab::Entry => Some(Permission::BackEntry),
                Tab::Reconcile => Some(Permission::Reconcile),
                Tab::Reference => Some(Permission::ViewCensus),
            },
            UiCommand::ImportCensus => Some(Permission::ImportCensus),
            UiCommand::Search | UiCommand::Lock | UiCommand::Help => None,
        }
    }

    /// What the help window says it does.
    pub fn describe(self) -> &'static str {
        match self {
            UiCommand::Show(_) => "画面を開く Open the screen",
            UiCommand::Search => "患者を検索 Search the census",
            UiCommand::ImportCensus => "患者一覧を取り込む Import a census file",
            UiCommand::Lock => "画面をロック Lock the screen now",
            UiCommand::Help => "この一覧 This list",
        }
    }

    /// How the shortcut reads on screen (F4, Ctrl+I).
    pub fn shortcut_text(self, ctx: &egui::Context) -> String {
        ctx.format_shortcut(&self.shortcut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_own_shortcut_and_label() {
        let mut seen = std::collections::HashSet::new();
        for c in UiCommand::ALL {
            assert!(seen.insert(format!("{:?}", c.shortcut())), "{c:?} shares its shortcut");
            assert!(!c.label().is_empty());
        }
        assert!(UiCommand::TABS.iter().all(|t| UiCommand::ALL.contains(&UiCommand::Show(*t))));
    }
}
