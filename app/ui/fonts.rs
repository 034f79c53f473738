//! BIZ UD PGothic (SIL OFL 1.1, see assets/fonts/OFL.txt) is compiled in, so Japanese renders the
//! same on every downtime PC, whatever fonts it has. It is a universal-design face, made to be
//! read at a glance, and is used for everything; egui's own fonts stay as fallbacks for symbols.

use egui::epaint::text::{FontInsert, FontPriority, InsertFontFamily};
use egui::{FontData, FontFamily};

use crate::assets::BIZ_UD_PGOTHIC;

pub fn install(ctx: &egui::Context) {
    ctx.add_font(FontInsert::new(
        "BIZ UDPGothic",
        FontData::from_static(BIZ_UD_PGOTHIC),
        vec![
            InsertFontFamily { family: FontFamily::Proportional, priority: FontPriority::Highest },
            InsertFontFamily { family: FontFamily::Monospace, priority: FontPriority::Lowest },
        ],
    ));
}
