//! Kana conversion by hand, because NFKC would also fold full-width Latin and digits (and turn
//! ① into 1), which must survive untouched in a name.
//!
//! * hiragana → katakana (ぁ–ゖ, ゝゞ)
//! * half-width katakana → full-width, with a following ﾞ/ﾟ composed onto its base (ｶﾞ → ガ)
//! * combining voiced marks (U+3099/U+309A) composed the same way
//! * everything else is left as it is.

/// Half-width katakana U+FF61..=U+FF9F mapped to their full-width forms, in code-point order.
const HALF_WIDTH: [char; 63] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー', 'ア',
    'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ', 'タ', 'チ', 'ツ',
    'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ',
    'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン', '゛', '゜',
];

const HALF_VOICED: char = '\u{FF9E}';
const HALF_SEMI_VOICED: char = '\u{FF9F}';
const COMBINING_VOICED: char = '\u{3099}';
const COMBINING_SEMI_VOICED: char = '\u{309A}';

/// Converts hiragana and half-width katakana to full-width katakana, leaving every other
/// character (Latin, digits, kanji, symbols) as it was.
pub fn to_katakana(input: &str) -> String {
    convert(input, true)
}

/// Converts only half-width katakana (and loose voiced marks) to full width: for display text
/// such as names in kanji or allergies, where hiragana must stay hiragana.
pub fn widen_half_width_kana(input: &str) -> String {
    convert(input, false)
}

fn convert(input: &str, hiragana_to_katakana: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            HALF_VOICED | COMBINING_VOICED => push_mark(&mut out, Mark::Voiced),
            HALF_SEMI_VOICED | COMBINING_SEMI_VOICED => push_mark(&mut out, Mark::SemiVoiced),
            '\u{FF61}'..='\u{FF9D}' => out.push(HALF_WIDTH[(c as u32 - 0xFF61) as usize]),
            '\u{3041}'..='\u{3096}' | 'ゝ' | 'ゞ' if hiragana_to_katakana => {
                out.push(char::from_u32(c as u32 + 0x60).unwrap_or(c));
            }
            _ => out.push(c),
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Mark {
    Voiced,
    SemiVoiced,
}

/// Composes a voiced mark onto the katakana before it, or keeps it as a spacing mark when the
/// previous character cannot take one (so nothing the user typed is dropped).
fn push_mark(out: &mut String, mark: Mark) {
    if let Some(prev) = out.chars().last()
        && let Some(composed) = compose_hiragana(prev, mark)
    {
        out.pop();
        out.push(composed);
        return;
    }
    if let Some(prev) = out.chars().last()
        && let Some(composed) = compose(prev, mark)
    {
        out.pop();
        out.push(composed);
        return;
    }
    out.push(match mark {
        Mark::Voiced => '゛',
        Mark::SemiVoiced => '゜',
    });
}

/// Hiragana kept as hiragana (display text) still takes a combining mark: か + ゙ → が.
fn compose_hiragana(base: char, mark: Mark) -> Option<char> {
    let kata = char::from_u32(base as u32 + 0x60).filter(|_| matches!(base, 'か'..='ほ' | 'う'))?;
    compose(kata, mark).and_then(|k| char::from_u32(k as u32 - 0x60))
}

fn compose(base: char, mark: Mark) -> Option<char> {
    let code = base as u32;
    // カ…チ take a mark on every other code point; ッ then shifts the parity of ツ, テ, ト.
    let voiced_plus_one = (matches!(base, 'カ'..='チ') && (code - 'カ' as u32).is_multiple_of(2))
        || matches!(base, 'ツ' | 'テ' | 'ト');
    let ha_row = matches!(base, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ');
    match mark {
        Mark::Voiced if voiced_plus_one => char::from_u32(code + 1),
        Mark::Voiced if ha_row => char::from_u32(code + 1),
        Mark::SemiVoiced if ha_row => char::from_u32(code + 2),
        Mark::Voiced => match base {
            'ウ' => Some('ヴ'),
            'ワ' => Some('ヷ'),
            'ヰ' => Some('ヸ'),
            'ヱ' => Some('ヹ'),
            'ヲ' => Some('ヺ'),
            'ヽ' => Some('ヾ'),
            _ => None,
        },
        Mark::SemiVoiced => None,
    }
}

/// True for a character that belongs in a kana reading once converted: katakana, the
/// prolonged-sound mark and the middle dot.
pub fn is_katakana(c: char) -> bool {
    matches!(c, '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | 'ヽ' | 'ヾ')
}

/// The key a kana or ID is searched by: hiragana and half-width kana folded to katakana, then
/// NFKC (so full-width Latin and digits match their ASCII forms), upper-cased, spaces removed.
/// Used for search only, never for display.
pub fn search_key(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    to_katakana(input).nfkc().filter(|c| !c.is_whitespace()).flat_map(char::to_uppercase).collect()
}

/// The key two readings are compared by when looking for the same person under another
/// spelling: the search key, then ヂ/ヅ read as ジ/ズ, voiced and semi-voiced marks dropped
/// (ガ → カ), small kana made large (ョ → ヨ), ヲ as オ, and the long-vowel mark and dots
/// removed. Names that sound alike to a tired clerk end up equal, or one edit apart.
pub fn reading_key(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let key = search_key(input).replace('ヂ', "ジ").replace('ヅ', "ズ");
    key.nfd()
        .filter_map(|c| match c {
            '\u{3099}' | '\u{309A}' | 'ー' | '・' | '-' => None,
            'ァ' | 'ィ' | 'ゥ' | 'ェ' | 'ォ' | 'ッ' | 'ャ' | 'ュ' | 'ョ' | 'ヮ' => {
                char::from_u32(c as u32 + 1)
            }
            'ヵ' => Some('カ'),
            'ヶ' => Some('ケ'),
            'ヲ' => Some('オ'),
            c => Some(c),
        })
        .collect()
}

/// True when two kana readings are the same or near the same (see `reading_key`): equal keys,
/// or — for keys of four or more characters, where one slip is a typo and not another name — one
/// insertion, deletion or substitution apart.
pub fn readings_alike(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (reading_key(a).chars().collect(), reading_key(b).chars().collect());
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || (a.len().min(b.len()) >= 4 && within_one_edit(&a, &b))
}

fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        short[prefix + 1..] == long[prefix + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_key_folds_hiragana_width_case_and_spaces() {
        assert_eq!(search_key("やまだ　たろう"), "ヤマダタロウ");
        assert_eq!(search_key("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダタロウ");
        assert_eq!(search_key("ｊｏｈｎ １２"), "JOHN12");
    }

    #[test]
    fn hiragana_becomes_katakana() {
        assert_eq!(to_katakana("やまだ たろう"), "ヤマダ タロウ");
        assert_eq!(to_katakana("ぁゖゝゞ"), "ァヶヽヾ");
    }

    #[test]
    fn half_width_katakana_becomes_full_width_with_marks_composed() {
        assert_eq!(to_katakana("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダ タロウ");
        assert_eq!(to_katakana("ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ"), "パピプペポ バビブベボ");
        assert_eq!(to_katakana("ｶﾞｷﾞｸﾞｹﾞｺﾞｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ"), "ガギグゲゴザジズゼゾダヂヅデド");
        assert_eq!(to_katakana("ｳﾞｧｲｵﾘﾝ ｰ ｯ"), "ヴァイオリン ー ッ");
    }

    #[test]
    fn combining_marks_are_composed() {
        assert_eq!(to_katakana("カ\u{3099}ハ\u{309A}"), "ガパ");
        assert_eq!(to_katakana("か\u{3099}"), "ガ");
    }

    #[test]
    fn widening_keeps_hiragana_and_kanji_but_widens_half_width_kana() {
        assert_eq!(widen_half_width_kana("ﾍﾟﾆｼﾘﾝ たまご 卵"), "ペニシリン たまご 卵");
        assert_eq!(widen_half_width_kana("か\u{3099}"), "が");
    }

    #[test]
    fn a_mark_with_nothing_to_join_is_kept_not_dropped() {
        assert_eq!(to_katakana("ﾞア"), "゛ア");
        assert_eq!(to_katakana("ｱﾟ"), "ア゜");
    }

    #[test]
    fn full_width_latin_digits_and_kanji_are_not_mangled() {
        assert_eq!(to_katakana("ＪＯＨＮ　１２３①山田"), "ＪＯＨＮ　１２３①山田");
        assert_eq!(to_katakana("abc-12"), "abc-12");
    }

    #[test]
    fn every_half_width_katakana_maps_to_a_katakana_or_punctuation() {
        for code in 0xFF66..=0xFF9D {
            let c = char::from_u32(code).unwrap();
            let k = to_katakana(&c.to_string());
            assert!(k.chars().all(is_katakana), "{c} -> {k}");
        }
    }

    #[test]
    fn readings_that_sound_alike_are_alike() {
        assert!(readings_alike("ヤマダ タロウ", "やまだ　たろう"));
        assert!(readings_alike("サイトウ ハナコ", "サイドウ ハナコ"), "voiced mark");
        assert!(readings_alike("キョウコ", "キヨウコ"), "small kana");
        assert!(readings_alike("オオノ ユウコ", "オーノ ユウコ"), "long vowel mark");
        assert!(readings_alike("ヤマダ タロウ", "ヤマダ タロ"), "one character missing");
        assert!(readings_alike("ヤマダ タロウ", "ヤマモ タロウ"), "one character different");
        assert!(!readings_alike("ヤマダ タロウ", "ヤマモト タロウ"));
        assert!(!readings_alike("イトウ", "イトオ"), "short keys must match exactly");
        assert!(!readings_alike("", ""));
        assert_eq!(reading_key("ヂヅガパョヲ"), "シスカハヨオ");
    }
}
