//! Files compiled into the program, so it runs self-contained on a downtime PC.

/// BIZ UD PGothic (SIL OFL 1.1, see assets/fonts/OFL.txt): a universal-design Japanese face,
/// used on screen and embedded (subset) in every printed PDF.
pub const BIZ_UD_PGOTHIC: &[u8] = include_bytes!("../assets/fonts/BIZUDPGothic-Regular.ttf");
