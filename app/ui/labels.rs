//! The accessible labels of the inputs and buttons, shared with the UI tests (egui_kittest finds
//! widgets by them, as a screen reader does).

pub const SEARCH_LABEL: &str = "検索 Search";
pub const ALL_WARDS: &str = "全病棟 All wards";
pub const LOAD_DEMO_BUTTON: &str = "デモ病院を読み込む Load demo hospital";
pub const IMPORT_MENU_BUTTON: &str = "患者一覧の取り込み… Import census… (Ctrl+I)";
pub const FILE_LABEL: &str = "CSVファイル CSV file";
pub const IMPORT_BUTTON: &str = "取り込む Import";
