//! Orders written on paper: prescriptions and injections (RDE^O11), doses given (RAS^O17), lab
//! (OML^O33), imaging (OMG^O19) and diet (OMD^O03) orders. Each order on a page keeps its placer
//! number across versions, so a correction replaces (`XO`) or cancels (`CA`) exactly the orders
//! the EHR already has.

use super::er7::{self, Seg, comps, esc, join, subs};
use super::paper::{Paper, value_text};
use super::{Draft, Hl7Context, UsageCode};
use crate::domain::dose::{Route, mr9p_unit};
use crate::domain::kana::search_key;
use crate::domain::{DosageForm, Specimen};
use crate::form::{ExportKey, FieldType, keys};
use crate::handoff::HandoffItem;

const DRUGS: &str = "99KKD";
const LAB_TESTS: &str = "99KKL";
const IMAGING: &str = "99KKI";
const DIETS: &str = "99KKN";
const FORM_ITEMS: &str = "99KKF";

/// HL7's null: the field is required and the paper does not say.
const NULL: &str = "\"\"";

/// The placer order number of the order `key` (a row, a test code) on the page.
fn placer_id(paper: &Paper, key: &str) -> String {
    if key.is_empty() { paper.item().to_string() } else { format!("{}-{key}", paper.item()) }
}

fn patient(item: &HandoffItem, outpatient: bool) -> Vec<Seg> {
    vec![er7::pid(&item.patient, true), er7::pv1(&item.patient, outpatient)]
}

/// The hospital as XON: name, and its facility code as the organization identifier (XON-10).
fn hospital(ctx: &Hl7Context) -> String {
    let mut parts = vec![esc(ctx.hospital_name)];
    parts.resize(9, String::new());
    parts.push(esc(ctx.sending_facility));
    join('^', &parts)
}

/// A department as the EHR codes it (`code^name^99KKS` from the departments master), or its
/// name alone when the master does not know it.
fn department(name: &str, ctx: &Hl7Context) -> String {
    match ctx.departments.get(name.trim()) {
        Some(code) => er7::coded(code, name.trim(), "99KKS"),
        None => comps(&["", name]),
    }
}

fn order_type(outpatient: bool) -> String {
    if outpatient { er7::coded("O", "外来", "HL70482") } else { er7::coded("I", "入院", "HL70482") }
}

/// The ORC every order and administration starts with.
fn orc(paper: &Paper, item: &HandoffItem, control: &str, key: &str, ctx: &Hl7Context) -> Seg {
    let k = paper.keyed;
    let department = paper.text(&keys::ORDERING_DEPARTMENT, "");
    Seg::new("ORC")
        .raw(1, control)
        .raw(2, er7::placer(&placer_id(paper, key)))
        .raw(4, er7::placer(paper.item()))
        .opt(9, paper.event())
        .opt(10, Some(k.entered_by.as_str()).filter(|s| !s.is_empty()).map(|u| er7::user(u, ctx)))
        .opt(11, k.verified_by.as_deref().filter(|s| !s.is_empty()).map(|u| er7::user(u, ctx)))
        .opt(12, paper.text(&keys::ORDERING_DOCTOR, "").map(|d| er7::doctor(&d, department.as_deref(), ctx)))
        .opt(17, department.as_deref().map(|d| self::department(d, ctx)))
        .raw(21, hospital(ctx))
        .raw(29, order_type(item.patient.outpatient))
}

/// Labels for an order that is new, one a delivered version had, and one a correction removed.
struct Actions {
    new: &'static str,
    kept: &'static str,
    removed: &'static str,
}

const ORDER_CONTROL: Actions = Actions { new: "NW", kept: "XO", removed: "CA" };
/// RXA-21: administrations are added, updated or deleted, under ORC-1 `RE`.
const ADMIN_ACTION: Actions = Actions { new: "A", kept: "U", removed: "D" };

/// The groups of every order on the page, then a removal for each order of the delivered
/// version that the page no longer has (built from that version, which is what the EHR holds).
fn groups<'p>(
    paper: &Paper<'p>,
    before: Option<&Paper<'p>>,
    actions: &Actions,
    keys: impl Fn(&Paper<'p>) -> Vec<String>,
    mut group: impl FnMut(&Paper<'p>, &str, &'static str) -> Vec<Seg>,
) -> Vec<Seg> {
    let now = keys(paper);
    let old = before.map(&keys).unwrap_or_default();
    let mut segs = Vec::new();
    for key in &now {
        segs.extend(group(paper, key, if old.contains(key) { actions.kept } else { actions.new }));
    }
    if let Some(before) = before {
        for key in old.iter().filter(|k| !now.contains(k)) {
            segs.extend(group(before, key, actions.removed));
        }
    }
    segs
}

/// A drug: its HOT number first when the master has one (JAHIS's `HOT9`/`HOT13`), with the
/// hospital's own code as the alternate; else the hospital's code alone.
fn drug(paper: &Paper, code: &str) -> String {
    let name = paper.name_of(code);
    match paper.fact(code, "hot") {
        Some(hot) => {
            let system = if hot.len() == 13 { "HOT13" } else { "HOT9" };
            comps(&[hot, &name, system, code, &name, DRUGS])
        }
        None => er7::coded(code, &name, DRUGS),
    }
}

/// A unit as MR9P codes it (`domain::dose::mr9p_unit`); any other unit travels as text in the
/// second component, never as a made-up code.
fn unit(text: &str) -> String {
    match mr9p_unit(text) {
        Some((code, name)) => er7::coded(code, name, "MR9P"),
        None => comps(&["", text.trim()]),
    }
}

/// The injection's technique (手技) for RXE-2, from the route written on the row: JAHIS's
/// 注射 puts the technique in RXE-2 and the drugs in RXC. The codes are kamikarte's own
/// (`99KKT`); JAHIS's technique table was not available to check against.
fn technique(route: Option<&str>) -> String {
    let upper = route.unwrap_or("").trim().to_uppercase();
    let (code, name) = match upper.as_str() {
        "DIV" | "点滴" | "点滴静注" => ("DIV", "点滴静注"),
        "IV" | "静注" | "静脈注射" => ("IV", "静注"),
        "IM" | "筋注" | "筋肉注射" => ("IM", "筋注"),
        "SC" | "皮下" | "皮下注" | "皮下注射" => ("SC", "皮下注"),
        "ID" | "皮内" | "皮内注射" => ("ID", "皮内注"),
        _ => ("INJ", "注射"),
    };
    er7::coded(code, name, "99KKT")
}

/// Route words on paper to HL7 table 0162 (`domain::dose::Route`), else the word as text.
/// RXR-1 is required, and `""` there is HL7's "delete" signal: a route nobody wrote is said so
/// in words, never `""`.
fn route(text: Option<String>) -> String {
    let Some(text) = text else { return comps(&["", "記載なし"]) };
    match Route::parse(&text) {
        Some(r) => er7::coded(r.code, &format!("{}({text})", r.name), "HL70162"),
        None => comps(&["", &text]),
    }
}

fn rxr(route_text: Option<String>) -> Seg {
    Seg::new("RXR").raw(1, route(route_text))
}

/// The route of a drug on a prescription, which has no route column: the paper is a 処方箋, so
/// a drug is taken by mouth unless its name says it is applied, inhaled, inserted or dropped
/// (軟膏, 吸入, 坐剤, 点眼 …).
fn prescription_route(drug_name: &str) -> String {
    let (code, name) = if ["軟膏", "クリーム", "ローション", "ゲル", "テープ", "パップ", "貼付", "外用"]
        .iter()
        .any(|w| drug_name.contains(w))
    {
        ("TP", "局所")
    } else if drug_name.contains("吸入") {
        ("IH", "吸入")
    } else if drug_name.contains("坐") {
        ("PR", "直腸")
    } else if drug_name.contains("点眼") || drug_name.contains("眼軟") {
        ("OP", "眼")
    } else if drug_name.contains("点鼻") {
        ("NS", "鼻")
    } else {
        ("PO", "経口")
    };
    er7::coded(code, name, "HL70162")
}

/// The usage written on a row, as the usages master knows it.
fn usage<'c>(text: &str, ctx: &'c Hl7Context) -> Option<&'c UsageCode> {
    ctx.usages.get(&search_key(text))
}

/// RXE for the drug row `row` of a prescription: the drug, the dose split into amount and unit
/// (MR9P), and the amount to dispense (RXE-10/11): dose × times a day × days for a drug taken
/// by mouth whose usage the master counts, the dose itself for one applied (a tube, a bottle).
fn rxe(paper: &Paper, row: &str, code: &str, ctx: &Hl7Context) -> Seg {
    let dose = paper.text(&keys::DOSE, row);
    let split = dose.as_deref().and_then(er7::amount);
    let seg = Seg::new("RXE").raw(2, drug(paper, code));
    let seg = match (&split, &dose) {
        (Some((n, u)), _) => {
            seg.raw(3, n.clone()).raw(5, if u.is_empty() { NULL.to_string() } else { unit(u) })
        }
        // Not a number (`適量`): no amount to give, the words as the instructions.
        (None, Some(text)) => seg.raw(5, NULL).raw(7, comps(&["", text])),
        (None, None) => seg.raw(5, NULL),
    };
    let form = paper.fact(code, "form").and_then(DosageForm::parse);
    let per_day = paper.text(&keys::FREQUENCY, row).and_then(|f| usage(&f, ctx)).and_then(|u| u.per_day);
    let days = paper
        .text(&keys::DAYS, row)
        .or_else(|| paper.text(&keys::DURATION, row))
        .and_then(|d| er7::amount(&d))
        .and_then(|(n, _)| n.parse::<f64>().ok());
    let dispense = match (&split, form) {
        (Some((n, u)), Some(DosageForm::Internal)) if !u.is_empty() => {
            let dose: f64 = n.parse().unwrap_or(0.0);
            per_day.zip(days).map(|(times, days)| (er7::num(dose * f64::from(times) * days), u.clone()))
        }
        (Some((n, u)), Some(DosageForm::External)) if !u.is_empty() => Some((n.clone(), u.clone())),
        _ => None,
    };
    let seg = match dispense {
        Some((amount, u)) => seg.raw(10, amount).raw(11, unit(&u)),
        None => seg,
    };
    with_rate(seg, paper, row)
}

/// The row's instructions: a rate (`100mL/h`) as RXE-23/24, other words as RXE-21.
fn with_rate(seg: Seg, paper: &Paper, row: &str) -> Seg {
    match paper.text(&keys::INSTRUCTIONS, row) {
        Some(rate) => match er7::amount(&rate) {
            Some((n, unit)) if !unit.is_empty() => seg.raw(23, esc(&n)).raw(24, comps(&["", &unit])),
            _ => seg.raw(21, comps(&["", &rate])),
        },
        None => seg,
    }
}

/// RXE and RXC of an injection row, as JAHIS's 注射 has them: RXE-2 the technique, RXE-3/5
/// the amount given, RXC the drug (`B`, the base) with its amount and unit.
fn injection_rxe(paper: &Paper, row: &str, code: &str) -> (Seg, Seg) {
    let dose = paper.text(&keys::DOSE, row);
    let split = dose.as_deref().and_then(er7::amount);
    let route = paper.text(&keys::ROUTE, row);
    let seg = Seg::new("RXE").raw(2, technique(route.as_deref()));
    let (amount, units) = match &split {
        Some((n, u)) if !u.is_empty() => (n.clone(), unit(u)),
        Some((n, _)) => (n.clone(), NULL.to_string()),
        // Amount unknown (`適量`): HL7's 999, the words as the instructions.
        None => ("999".to_string(), NULL.to_string()),
    };
    let rxc =
        Seg::new("RXC").raw(1, "B").raw(2, drug(paper, code)).raw(3, amount.clone()).raw(4, units.clone());
    let seg = match (&split, &dose) {
        (Some(_), _) => seg.raw(3, amount).raw(5, units),
        (None, Some(text)) => seg.raw(5, NULL).raw(7, comps(&["", text])),
        (None, None) => seg.raw(5, NULL),
    };
    (with_rate(seg, paper, row), rxc)
}

fn nte(set: usize, text: &str) -> Seg {
    Seg::new("NTE").raw(1, set.to_string()).text(3, text)
}

/// TQ1 of a drug row: the usage in TQ1-3 (JAMI's standard usage code, `JAMISDP01`, when the
/// usages master has one for the words on the row; the words alone otherwise), the days as the
/// service duration, when it starts.
fn rx_timing(paper: &Paper, row: &str, start: Option<String>, ctx: &Hl7Context) -> Seg {
    let days = paper.text(&keys::DAYS, row).or_else(|| paper.text(&keys::DURATION, row));
    let pattern = |f: String| match usage(&f, ctx) {
        Some(UsageCode { jami: Some(code), name, .. }) => subs(&[code, name, "JAMISDP01"]),
        _ => subs(&["", &f]),
    };
    Seg::new("TQ1")
        .raw(1, "1")
        .opt(3, paper.text(&keys::FREQUENCY, row).map(pattern))
        .opt(6, days.and_then(|d| er7::amount(&d)).map(|(n, _)| join('^', &[n, subs(&["d", "日", "UCUM"])])))
        .opt(7, start)
}

/// RDE^O11: ORC, RXE, NTE, TQ1, RXR per drug row.
fn rde(
    item: &HandoffItem,
    paper: &Paper,
    before: Option<&Paper>,
    ctx: &Hl7Context,
    injection: bool,
) -> Option<Draft> {
    let discharge = paper.ticked(&keys::DISCHARGE_ORDER, "");
    let orders = groups(
        paper,
        before,
        &ORDER_CONTROL,
        |p| p.rows_with(&keys::DRUG),
        |p, row, control| {
            let Some(code) = p.text(&keys::DRUG, row) else { return Vec::new() };
            let mut orc = orc(p, item, control, row, ctx);
            if discharge {
                orc = orc.raw(29, er7::coded("I", "退院時処方", "HL70482"));
            }
            let (rxe, rxc) = if injection {
                let (rxe, rxc) = injection_rxe(p, row, &code);
                (rxe, Some(rxc))
            } else {
                (rxe(p, row, &code, ctx), None)
            };
            let mut segs = vec![orc, rxe];
            if let Some(comment) = p.text(&keys::COMMENT, row) {
                segs.push(nte(1, &comment));
            }
            let start = if injection { p.row_at(row) } else { None };
            segs.push(rx_timing(p, row, start, ctx));
            segs.push(if injection {
                rxr(p.text(&keys::ROUTE, row))
            } else {
                Seg::new("RXR").raw(1, prescription_route(&p.name_of(&code)))
            });
            segs.extend(rxc);
            segs
        },
    );
    if orders.is_empty() {
        return None;
    }
    let mut segs = patient(item, item.patient.outpatient);
    segs.extend(orders);
    Some(Draft::new("RDE^O11^RDE_O11", segs))
}

pub fn prescription(
    item: &HandoffItem,
    paper: &Paper,
    before: Option<&Paper>,
    ctx: &Hl7Context,
) -> Vec<Draft> {
    rde(item, paper, before, ctx, false).into_iter().collect()
}

/// RAS^O17: ORC (`RE`), RXA, RXR per row. `given` says whether a row was given (RXA-20 `CP`)
/// or not (`NA`, amount 0): a row nobody ticked is never reported as given.
fn ras(
    item: &HandoffItem,
    paper: &Paper,
    before: Option<&Paper>,
    ctx: &Hl7Context,
    rows: fn(&Paper) -> Vec<String>,
    drug_key: &ExportKey,
    given: fn(&Paper, &str) -> bool,
) -> Option<Draft> {
    let admins = groups(paper, before, &ADMIN_ACTION, rows, |p, row, action| {
        let Some(code) = p.text(drug_key, row) else { return Vec::new() };
        let was_given = given(p, row);
        let dose = p.text(&keys::GIVEN_AMOUNT, row).or_else(|| p.text(&keys::DOSE, row));
        let split = dose.as_deref().and_then(er7::amount);
        let at = p.row_at(row).or_else(|| er7::stamp(&p.keyed.entered_at)).unwrap_or_default();
        let (amount, unit) = match (&split, was_given) {
            (_, false) => ("0".to_string(), NULL.to_string()),
            (Some((n, u)), true) if !u.is_empty() => (n.clone(), comps(&["", u])),
            (Some((n, _)), true) => (n.clone(), NULL.to_string()),
            // HL7's "amount unknown": the dose was not a number; the words go to RXA-9.
            (None, true) => ("999".to_string(), NULL.to_string()),
        };
        let rxa = Seg::new("RXA")
            .raw(1, "0")
            .raw(2, "1")
            .raw(3, at.clone())
            .raw(4, at)
            .raw(5, drug(p, &code))
            .raw(6, amount)
            .raw(7, unit)
            .opt(9, dose.filter(|_| split.is_none()).map(|d| comps(&["", &d])))
            .opt(10, p.text(&keys::GIVEN_BY, row).map(|by| er7::person(&by)))
            .raw(20, if was_given { "CP" } else { "NA" })
            .raw(21, action)
            .opt(22, er7::stamp(&p.keyed.entered_at));
        vec![orc(p, item, "RE", row, ctx), rxa, rxr(p.text(&keys::ROUTE, row))]
    });
    if admins.is_empty() {
        return None;
    }
    let mut segs = patient(item, item.patient.outpatient);
    segs.extend(admins);
    Some(Draft::new("RAS^O17^RAS_O17", segs))
}

/// Injection orders: the drug rows as RDE^O11, then what was given as RAS^O17 — the rows ticked
/// done or signed by whoever gave them.
pub fn injection(item: &HandoffItem, paper: &Paper, before: Option<&Paper>, ctx: &Hl7Context) -> Vec<Draft> {
    fn done_rows(p: &Paper) -> Vec<String> {
        p.rows_with(&keys::DRUG)
            .into_iter()
            .filter(|r| p.ticked(&ExportKey::Administered, r) || p.text(&keys::GIVEN_BY, r).is_some())
            .collect()
    }
    let mut drafts: Vec<Draft> = rde(item, paper, before, ctx, true).into_iter().collect();
    drafts.extend(ras(item, paper, before, ctx, done_rows, &keys::DRUG, |p, r| {
        p.ticked(&ExportKey::Administered, r)
    }));
    drafts
}

/// The MAR: one administration per row with a drug.
pub fn mar(item: &HandoffItem, paper: &Paper, before: Option<&Paper>, ctx: &Hl7Context) -> Vec<Draft> {
    ras(
        item,
        paper,
        before,
        ctx,
        |p| p.rows_with(&keys::GIVEN_DRUG),
        &keys::GIVEN_DRUG,
        |p, r| p.ticked(&keys::GIVEN, r),
    )
    .into_iter()
    .collect()
}

fn priority(paper: &Paper) -> String {
    if paper.ticked(&keys::URGENT, "") {
        er7::coded("S", "至急", "HL70485")
    } else {
        er7::coded("R", "通常", "HL70485")
    }
}

/// OBR for an ordered service.
fn obr(paper: &Paper, set: usize, key: &str, service: String) -> Seg {
    Seg::new("OBR")
        .raw(1, set.to_string())
        .raw(2, er7::placer(&placer_id(paper, key)))
        .raw(4, service)
        .opt(16, paper.text(&keys::ORDERING_DOCTOR, "").map(|d| er7::person(&d)))
}

/// The specimen a test is taken from: the lab master's for the test, else the one written on
/// the paper.
fn specimen_of(paper: &Paper, code: &str) -> Option<String> {
    let text =
        paper.fact(code, "specimen").map(str::to_string).or_else(|| paper.text(&keys::SPECIMEN, ""))?;
    // One name per specimen (`血液` on paper is the master's `全血`), so they share a group.
    Some(Specimen::parse(&text).map_or(text, |s| s.name.to_string()))
}

/// SPM-4: the JLAC10 material code (`JC10`, as JAHIS's lab messages carry it) with HL7 table
/// 0487's code as the alternate; 0487 alone where JLAC10 has no material code kamikarte knows;
/// the words alone for a specimen kamikarte does not code.
fn specimen_type(text: Option<&str>) -> String {
    match (text, text.and_then(Specimen::parse)) {
        (_, Some(Specimen { hl7, hl7_name, jlac10: Some((code, name)), .. })) => {
            comps(&[code, name, "JC10", hl7, hl7_name, "HL70487"])
        }
        (_, Some(Specimen { hl7, hl7_name, .. })) => er7::coded(hl7, hl7_name, "HL70487"),
        (Some(words), None) => comps(&["", words]),
        (None, None) => NULL.to_string(),
    }
}

/// A lab test for OBR-4: its JLAC10 code first (`JC10`) when the master has one, the
/// hospital's own code as the alternate.
fn lab_test(paper: &Paper, code: &str) -> String {
    let name = paper.name_of(code);
    match paper.fact(code, "jlac10") {
        Some(jlac10) => comps(&[jlac10, &name, "JC10", code, &name, LAB_TESTS]),
        None => er7::coded(code, &name, LAB_TESTS),
    }
}

/// OML^O33: one specimen group per specimen (SPM, then ORC, TQ1, OBR and the clinical
/// information of each test taken from it): a urinalysis and a serum panel on one slip are
/// two specimens.
pub fn lab(item: &HandoffItem, paper: &Paper, before: Option<&Paper>, ctx: &Hl7Context) -> Vec<Draft> {
    let collected = er7::paper_at(paper.date().as_deref(), paper.text(&keys::COLLECTED_AT, "").as_deref())
        .filter(|_| paper.text(&keys::COLLECTED_AT, "").is_some());
    // Every specimen of the page, and of the delivered version's tests a correction removes.
    let mut specimens: Vec<Option<String>> = Vec::new();
    for p in std::iter::once(paper).chain(before) {
        for code in p.codes(&keys::SERVICE, "") {
            let s = specimen_of(p, &code);
            if !specimens.contains(&s) {
                specimens.push(s);
            }
        }
    }
    let mut set = 0;
    let mut body = Vec::new();
    for (n, specimen) in specimens.iter().enumerate() {
        let of_specimen = |p: &Paper| -> Vec<String> {
            p.codes(&keys::SERVICE, "").into_iter().filter(|c| &specimen_of(p, c) == specimen).collect()
        };
        let orders = groups(paper, before, &ORDER_CONTROL, of_specimen, |p, code, control| {
            set += 1;
            let mut segs = vec![
                orc(p, item, control, code, ctx),
                Seg::new("TQ1").raw(1, "1").raw(9, priority(p)),
                obr(p, set, code, lab_test(p, code)).opt(7, collected.clone()),
            ];
            if let Some(info) = p.text(&keys::COMMENT, "") {
                segs.push(nte(1, &info));
            }
            segs
        });
        if orders.is_empty() {
            continue;
        }
        body.push(
            Seg::new("SPM")
                .raw(1, (n + 1).to_string())
                .raw(4, specimen_type(specimen.as_deref()))
                .opt(17, collected.clone()),
        );
        body.extend(orders);
    }
    if body.is_empty() {
        return Vec::new();
    }
    let mut segs = patient(item, item.patient.outpatient || paper.ticked(&keys::OUTPATIENT, ""));
    segs.extend(body);
    vec![Draft::new("OML^O33^OML_O33", segs)]
}

/// OBX for the page's own observations exported as `OBX-5` (a tick is sent only when ticked:
/// an empty box says nothing).
fn page_observations(paper: &Paper) -> Vec<Seg> {
    let mut out = Vec::new();
    for field in paper.fields(&keys::OBSERVATION, "") {
        let Some(value) = paper.value(field) else { continue };
        let label = Paper::short_label(field);
        let code = er7::coded(&field.key, &label, FORM_ITEMS);
        let seg = Seg::new("OBX").raw(1, (out.len() + 1).to_string()).raw(3, code).raw(11, "F");
        let seg = match (&field.kind, value) {
            (FieldType::Tick, serde_json::Value::Bool(true)) => {
                seg.raw(2, "CE").raw(5, er7::coded("Y", "はい", "HL70136"))
            }
            (FieldType::Tick, _) => continue,
            (FieldType::Number { unit, .. }, v) => {
                let Some(n) = value_text(v) else { continue };
                let unit = unit.as_deref().unwrap_or("");
                seg.raw(2, "NM")
                    .text(5, &n)
                    .opt(6, (!unit.is_empty()).then(|| er7::coded(unit, unit, "UCUM")))
            }
            (_, v) => {
                let Some(t) = value_text(v) else { continue };
                seg.raw(2, "ST").text(5, &t)
            }
        };
        out.push(seg);
    }
    out
}

/// OMG^O19: ORC, TQ1, OBR per modality, with the clinical question, the region, portable and
/// contrast, and the page's observations (contrast allergy checked, creatinine).
pub fn imaging(item: &HandoffItem, paper: &Paper, before: Option<&Paper>, ctx: &Hl7Context) -> Vec<Draft> {
    let mut set = 0;
    let orders = groups(
        paper,
        before,
        &ORDER_CONTROL,
        |p| p.codes(&keys::SERVICE, ""),
        |p, code, control| {
            set += 1;
            let region = p
                .text(&keys::BODY_SITE, "")
                .map(|r| join('^', &[String::new(), String::new(), String::new(), subs(&["", &r])]));
            let obr = obr(p, set, code, er7::coded(code, &p.name_of(code), IMAGING))
                .opt(13, p.text(&keys::CLINICAL_INFO, "").map(|t| esc(&t)))
                .opt(15, region)
                .opt(30, p.ticked(&keys::PORTABLE, "").then(|| "PORT".to_string()))
                .opt(46, p.ticked(&keys::CONTRAST, "").then(|| comps(&["CONTRAST", "造影あり"])));
            let mut segs =
                vec![orc(p, item, control, code, ctx), Seg::new("TQ1").raw(1, "1").raw(9, priority(p)), obr];
            segs.extend(page_observations(p));
            segs
        },
    );
    if orders.is_empty() {
        return Vec::new();
    }
    let mut segs = patient(item, item.patient.outpatient);
    segs.extend(orders);
    vec![Draft::new("OMG^O19^OMG_O19", segs)]
}

/// OMD^O03: food allergies (AL1, in the patient group), then ORC, TQ1 (start date, first meal),
/// ODS (diets, and the nutrient limits as text) and the comment.
pub fn diet(item: &HandoffItem, paper: &Paper, before: Option<&Paper>, ctx: &Hl7Context) -> Vec<Draft> {
    let order = groups(
        paper,
        before,
        &ORDER_CONTROL,
        |_| vec![String::new()],
        |p, key, control| {
            let diets: Vec<String> =
                p.codes(&keys::DIET, "").iter().map(|c| er7::coded(c, &p.name_of(c), DIETS)).collect();
            let meals: Vec<String> = p
                .codes(&keys::START, "")
                .iter()
                .map(|c| p.name_of(c).split_whitespace().next().unwrap_or(c).to_string())
                .collect();
            let limits: Vec<String> = p
                .fields(&keys::DIET_INSTRUCTION, "")
                .filter_map(|f| {
                    let value = p.value(f).and_then(value_text)?;
                    let unit = match &f.kind {
                        FieldType::Number { unit: Some(u), .. } => u.as_str(),
                        _ => "",
                    };
                    Some(esc(&format!("{} {value}{unit}", Paper::short_label(f))))
                })
                .collect();
            let start = p.text(&keys::DIET_FROM, "").and_then(|d| er7::paper(&d)).or_else(|| p.event());
            let tq1 = Seg::new("TQ1")
                .raw(1, "1")
                .opt(7, start)
                .opt(11, (!meals.is_empty()).then(|| esc(&format!("開始食: {}", meals.join("・")))));
            let ods = Seg::new("ODS")
                .raw(1, "D")
                .raw(3, if diets.is_empty() { NULL.to_string() } else { diets.join("~") })
                .raw(4, limits.join("~"));
            let mut segs = vec![orc(p, item, control, key, ctx), tq1, ods];
            if let Some(comment) = p.text(&keys::COMMENT, "") {
                segs.push(nte(1, &comment));
            }
            segs
        },
    );
    let mut segs = patient(item, item.patient.outpatient);
    let allergies = paper.text(&keys::ALLERGIES, "").unwrap_or_default();
    let allergens = allergies.split(['\n', '\r', '、', ',', '，']).map(str::trim).filter(|a| !a.is_empty());
    for (i, allergen) in allergens.enumerate() {
        segs.push(
            Seg::new("AL1")
                .raw(1, (i + 1).to_string())
                .raw(2, er7::coded("FA", "食物アレルギー", "HL70127"))
                .raw(3, comps(&["", allergen])),
        );
    }
    segs.extend(order);
    vec![Draft::new("OMD^O03^OMD_O03", segs)]
}
