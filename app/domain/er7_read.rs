//! Reading an HL7 v2 message (ER7, the `|^~\&` encoding) someone else wrote: segments, fields,
//! repetitions and components, with the escape sequences undone. The separators are the ones
//! its MSH declares. No I/O: the bytes are decoded to text by the caller (ISO-2022-JP or UTF-8,
//! as MSH-18 says).

/// One message, as segments in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    segments: Vec<Segment>,
    seps: Separators,
}

/// The separators a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separators {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Separators {
    /// Undoes HL7's escapes: `\F\ \S\ \T\ \R\ \E\`, `\.br\` as a line break, `\Xhh…\` as
    /// bytes; formatting escapes it cannot render are dropped, an unterminated one kept as
    /// written.
    pub fn unescape(&self, text: &str) -> String {
        let e = self.escape;
        if !text.contains(e) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find(e) {
            out.push_str(&rest[..start]);
            let after = &rest[start + e.len_utf8()..];
            let Some(end) = after.find(e) else {
                out.push_str(&rest[start..]);
                return out;
            };
            match &after[..end] {
                "F" => out.push(self.field),
                "S" => out.push(self.component),
                "T" => out.push(self.subcomponent),
                "R" => out.push(self.repetition),
                "E" => out.push(e),
                ".br" => out.push('\n'),
                hex if hex.starts_with('X') => {
                    let bytes: Vec<u8> = (1..hex.len())
                        .step_by(2)
                        .filter_map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                        .collect();
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
                _ => {}
            }
            rest = &after[end + e.len_utf8()..];
        }
        out.push_str(rest);
        out
    }
}

/// One segment: its name and its fields as written (field 1 is the one after the name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    /// `fields[0]` is the name; for MSH, `fields[1]` is the field separator itself.
    fields: Vec<String>,
}

/// What makes a text no HL7 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Er7Error {
    #[error("not an HL7 message: it does not start with MSH")]
    NoMsh,
    #[error("the MSH segment declares no separators")]
    NoSeparators,
}

impl Message {
    pub fn parse(text: &str) -> Result<Self, Er7Error> {
        // Files copied from an MLLP feed may end with its 0x1C (seen in published samples).
        let text = text.trim_start_matches('\u{feff}').trim_start().trim_end_matches(['\u{1c}', '\r', '\n']);
        if !text.starts_with("MSH") {
            return Err(Er7Error::NoMsh);
        }
        let mut head = text[3..].chars();
        let (Some(field), Some(component), Some(repetition), Some(escape), Some(subcomponent)) =
            (head.next(), head.next(), head.next(), head.next(), head.next())
        else {
            return Err(Er7Error::NoSeparators);
        };
        if field.is_alphanumeric() || field.is_whitespace() {
            return Err(Er7Error::NoSeparators);
        }
        let seps = Separators { field, component, repetition, escape, subcomponent };
        let segments = text
            .split(['\r', '\n'])
            .map(|s| s.trim_end())
            .filter(|s| s.len() >= 3)
            .map(|line| {
                let mut fields: Vec<String> = line.split(field).map(str::to_string).collect();
                if fields[0] == "MSH" {
                    // MSH-1 is the separator itself; MSH-2 the encoding characters.
                    fields.insert(1, field.to_string());
                }
                Segment { name: fields[0].clone(), fields }
            })
            .collect();
        Ok(Message { segments, seps })
    }

    /// Every segment named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.name == name)
    }

    /// The first segment named `name`.
    pub fn first(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// The segments in order (for grouping: a RXE and the TQ1 and RXR after it).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Field `n` of the first `segment` (first repetition), components joined as written: the
    /// raw text, unescaped.
    pub fn value(&self, segment: &str, n: usize) -> String {
        self.first(segment).map(|s| self.text(s, n, 0, 1)).unwrap_or_default()
    }

    /// Component `c` (1-based) of field `n` of `segment`, first repetition, unescaped; empty
    /// when absent.
    pub fn component(&self, segment: &Segment, n: usize, c: usize) -> String {
        self.text(segment, n, 0, c)
    }

    /// The subcomponents of component `c` of field `n` (first repetition), unescaped: a CWE
    /// inside a component (TQ1-3's repeat pattern is `code&text&system`).
    pub fn subcomponents(&self, segment: &Segment, n: usize, c: usize) -> Vec<String> {
        let Some(raw) = segment.fields.get(n) else { return Vec::new() };
        let repetition = raw.split(self.seps.repetition).next().unwrap_or("");
        let Some(component) = repetition.split(self.seps.component).nth(c.saturating_sub(1)) else {
            return Vec::new();
        };
        component.split(self.seps.subcomponent).map(|s| self.unescape(s)).collect()
    }

    /// The repetitions of field `n`, each as its components (unescaped).
    pub fn repetitions(&self, segment: &Segment, n: usize) -> Vec<Vec<String>> {
        let Some(raw) = segment.fields.get(n) else { return Vec::new() };
        raw.split(self.seps.repetition)
            .filter(|r| !r.is_empty())
            .map(|r| r.split(self.seps.component).map(|c| self.unescape(first_sub(c, self.seps))).collect())
            .collect()
    }

    fn text(&self, segment: &Segment, n: usize, rep: usize, c: usize) -> String {
        if segment.name == "MSH" && n <= 2 {
            return segment.fields.get(n).cloned().unwrap_or_default();
        }
        let Some(raw) = segment.fields.get(n) else { return String::new() };
        let Some(repetition) = raw.split(self.seps.repetition).nth(rep) else { return String::new() };
        let Some(component) = repetition.split(self.seps.component).nth(c.saturating_sub(1)) else {
            return String::new();
        };
        self.unescape(first_sub(component, self.seps))
    }

    fn unescape(&self, text: &str) -> String {
        self.seps.unescape(text)
    }
}

/// A component's first subcomponent: what a reader of names and codes wants.
fn first_sub(component: &str, seps: Separators) -> &str {
    component.split(seps.subcomponent).next().unwrap_or("")
}

impl Segment {
    /// How many fields the segment has (the name not counted).
    pub fn len(&self) -> usize {
        self.fields.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "MSH|^~\\&|HIS123|SEND|GW|RCV|20111220224447.3399||ADT^A08^ADT_A01|20111220000001|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO\r\
EVN||20111220224447||||20111220224447\r\
PID|0001||9999013||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||19480405|M\r\
AL1|1|FA^食物アレルギー^HL70127|1^卵^99XYZ|SV^重度^HL70128\r\
OBX|1|NM|5H010000001999911^身長^JC10||167.8|cm^cm^ISO+|||||F\\.br\\次行\r";

    #[test]
    fn fields_components_and_repetitions_are_read_with_msh_counted_as_hl7_counts() {
        let m = Message::parse(SAMPLE).unwrap();
        assert_eq!(m.value("MSH", 9), "ADT");
        let msh = m.first("MSH").unwrap();
        assert_eq!(m.component(msh, 9, 2), "A08");
        assert_eq!(m.component(msh, 18, 1), "");
        assert_eq!(m.repetitions(msh, 18), vec![vec!["ISO IR87".to_string()]]);
        let pid = m.first("PID").unwrap();
        assert_eq!(m.value("PID", 3), "9999013");
        let names = m.repetitions(pid, 5);
        assert_eq!(names.len(), 2);
        assert_eq!((names[1][0].as_str(), names[1][7].as_str()), ("カンジャ", "P"));
        let al1 = m.first("AL1").unwrap();
        assert_eq!(m.component(al1, 3, 2), "卵");
        let obx = m.first("OBX").unwrap();
        assert_eq!(m.component(obx, 11, 1), "F\n次行", "\\.br\\ is a line break");
        assert_eq!(m.component(obx, 30, 1), "", "a field past the end is empty");
        let m = Message::parse("MSH|^~\\&|A\rTQ1|1||1011000400000000&1日1回 朝食後&JAMISDP01|||10^d&日&UCUM")
            .unwrap();
        let tq1 = m.first("TQ1").unwrap();
        assert_eq!(m.subcomponents(tq1, 3, 1), ["1011000400000000", "1日1回 朝食後", "JAMISDP01"]);
        assert_eq!(m.component(tq1, 6, 1), "10");
    }

    #[test]
    fn escapes_are_undone_and_text_that_is_no_message_is_refused() {
        let m = Message::parse("MSH|^~\\&|A\rNTE|1||a\\F\\b\\S\\c\\E\\d\\X41\\").unwrap();
        assert_eq!(m.value("NTE", 3), "a|b^c\\dA");
        assert_eq!(Message::parse("PID|1"), Err(Er7Error::NoMsh));
        assert_eq!(Message::parse("MSH"), Err(Er7Error::NoSeparators));
    }
}
