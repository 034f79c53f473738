//! The accessible labels of the inputs and buttons, shared with the UI tests (egui_kittest finds
//! widgets by them, as a screen reader does).

pub const SEARCH_LABEL: &str = "検索 Search";
pub const ALL_WARDS: &str = "全病棟 All wards";
pub const LOAD_DEMO_BUTTON: &str = "デモ病院を読み込む Load demo hospital";
pub const IMPORT_MENU_BUTTON: &str = "患者一覧の取り込み… Import census… (Ctrl+I)";
pub const FILE_LABEL: &str = "CSVファイル CSV file";
pub const IMPORT_BUTTON: &str = "取り込む Import";
pub const USER_LABEL: &str = "ユーザー名 User name";
pub const PASSWORD_LABEL: &str = "パスワード Password";
pub const LOGIN_BUTTON: &str = "ログイン Log in";
pub const CARD_LABEL: &str = "IDカード ID card";
pub const PIN_LABEL: &str = "PIN";
pub const CARD_LOGIN_BUTTON: &str = "カードでログイン Log in with card";
pub const NEW_ADMIN_LABEL: &str = "管理者のユーザー名 Administrator's user name";
pub const NEW_PASSWORD_LABEL: &str = "パスワード（16文字以上） Password (16+ characters)";
pub const CONFIRM_PASSWORD_LABEL: &str = "パスワード（確認） Password again";
pub const CREATE_ADMIN_BUTTON: &str = "管理者を作成 Create administrator";
pub const LOCK_BUTTON: &str = "ロック Lock (Ctrl+L)";
pub const LOGOUT_BUTTON: &str = "ログアウト Log out";
pub const UNLOCK_BUTTON: &str = "ロック解除 Unlock";
pub const CENSUS_TAB: &str = "患者一覧 Census";
pub const KIT_TAB: &str = "キット Kit";
pub const KIT_PATIENTS_LABEL: &str = "または患者ID Or patient IDs";
pub const KIT_OUT_LABEL: &str = "出力フォルダ Output folder";
pub const KIT_BLANKS_LABEL: &str = "白紙の枚数 Blank copies per form";
pub const KIT_GENERATE_BUTTON: &str = "キットを作成 Generate kit";
pub const OPEN_FOLDER_BUTTON: &str = "フォルダを開く Open folder";
