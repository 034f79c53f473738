//! Charges: DFT^P03 with one FT1 per charge line. A correction of a slip the billing system
//! already has credits every delivered line (FT1-6 `CD`, quantity negated) before charging the
//! new ones (`CG`), so the billing system nets the two without having to match lines.

use super::er7::{self, Seg, comps};
use super::paper::Paper;
use super::{Draft, Hl7Context};
use crate::form::keys;
use crate::handoff::{ChargeOut, HandoffItem};

const CHARGES: &str = "99KKC";

fn ft1(paper: &Paper, version: u32, set: usize, out: &ChargeOut, credit: bool, ctx: &Hl7Context) -> Seg {
    let line = &out.line;
    let date = er7::paper(&line.service_date)
        .or_else(|| paper.event())
        .unwrap_or_else(|| er7::ts(ctx.now).chars().take(8).collect());
    let (kind, quantity, id) = if credit {
        ("CD", -line.quantity, format!("{}.{version}-C{}", paper.item(), out.line_no))
    } else {
        ("CG", line.quantity, format!("{}.{version}-{}", paper.item(), out.line_no))
    };
    let department = line.department.clone().or_else(|| paper.text(&keys::CHARGE_DEPARTMENT, ""));
    let doctor = line.doctor.clone().or_else(|| paper.text(&keys::CHARGE_DOCTOR, ""));
    let entered_by = match paper.text(&keys::CHARGE_PERFORMER, "") {
        Some(clerk) => er7::person(&clerk),
        None => er7::user(&paper.keyed.entered_by, ctx),
    };
    Seg::new("FT1")
        .raw(1, set.to_string())
        .text(2, &id)
        .text(3, paper.item())
        .raw(4, date)
        .raw(6, kind)
        .raw(7, er7::coded(&line.code, out.name.as_deref().unwrap_or(&line.code), CHARGES))
        .raw(10, er7::num(quantity))
        .opt(13, department.as_deref().map(|d| comps(&["", d])))
        // 医事's own 保険組合せ番号, as the slip names it: a reference, never a plan of our own.
        .opt(14, line.insurance.as_deref().map(|i| er7::coded(i, &format!("保険組合せ{i}"), "99KKI")))
        .opt(21, doctor.map(|d| er7::doctor(&d, department.as_deref(), ctx)))
        .raw(24, entered_by)
}

/// The slip's charge lines, after a credit for each line of the delivered version `credited`.
/// FT1-2 (transaction ID) is `<item>.<version>-<line>` (`-C<line>` for a credit): unique across
/// versions, so a billing system that drops repeated transaction IDs still takes a re-charge.
pub fn dft(
    item: &HandoffItem,
    paper: &Paper,
    version: u32,
    credited: &[ChargeOut],
    ctx: &Hl7Context,
) -> Vec<Draft> {
    let lines = &paper.keyed.lines;
    if lines.is_empty() && credited.is_empty() {
        return Vec::new();
    }
    let k = paper.keyed;
    let mut segs = vec![
        er7::evn("P03", er7::stamp(&k.entered_at), Some(&k.entered_by), ctx),
        er7::pid(&item.patient, true),
        er7::pv1(&item.patient, item.patient.outpatient),
    ];
    let entries = credited.iter().map(|l| (l, true)).chain(lines.iter().map(|l| (l, false)));
    for (i, (line, credit)) in entries.enumerate() {
        segs.push(ft1(paper, version, i + 1, line, credit, ctx));
    }
    vec![Draft::new("DFT^P03^DFT_P03", segs)]
}
