//! The manual indexing queue: a clerk files a page whose barcode could not be read, by the
//! patient ID (typed or scanned from a wristband) and the form, or by typing the page code
//! printed under the barcode.

use unicode_normalization::UnicodeNormalization;

use crate::auth::{AuthError, Session};
use crate::domain::{FieldError, PageCode, PatientId, Permission, check_typed_id};
use crate::form::FormDefinition;
use crate::store::{Assignment, ScannedPageRecord, Store, StoreError};

/// What the clerk typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexInput {
    /// A patient ID, or a whole page code (then `form` may stay empty).
    pub patient_or_code: String,
    /// A form's code (`PN`) or id (`progress_note`).
    pub form: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{field}: {message}")]
    Field { field: &'static str, message: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn field(field: &'static str) -> impl Fn(FieldError) -> IndexError {
    move |e| IndexError::Field { field, message: e.message }
}

/// Reads the clerk's input into an assignment for `page` (a blank form keeps its serial).
pub fn read_input(
    store: &Store,
    forms: &[FormDefinition],
    page: &ScannedPageRecord,
    input: &IndexInput,
) -> Result<Assignment, IndexError> {
    let text = input.patient_or_code.trim();
    if text.is_empty() {
        return Err(IndexError::Field { field: "patient", message: "type or scan the patient ID".into() });
    }
    let find_form = |typed: &str| {
        let typed = typed.trim();
        forms
            .iter()
            .find(|f| f.code.as_str().eq_ignore_ascii_case(typed) || f.id.eq_ignore_ascii_case(typed))
            .map(|f| f.code.as_str().to_string())
    };
    // Scanned behind a Japanese IME the code may arrive full-width: fold before looking.
    let folded: String = text.nfkc().collect::<String>().to_uppercase();
    if folded.starts_with("K1.") {
        let code = PageCode::parse(text).map_err(field("page code"))?;
        let patient = code.patient.clone().ok_or_else(|| IndexError::Field {
            field: "page code",
            message: "this is a blank form's code: type the patient ID instead, and the form".into(),
        })?;
        if let (Some(form), Some(serial)) = (page.form_code.as_deref(), page.serial.as_deref())
            && (form != code.form.as_str() || serial != code.serial.to_string())
        {
            return Err(IndexError::Field {
                field: "page code",
                message: format!(
                    "this page's own barcode says {form} {serial}; the typed code says {} {}",
                    code.form.as_str(),
                    code.serial
                ),
            });
        }
        return Ok(Assignment {
            patient_id: patient,
            form_code: code.form.as_str().to_string(),
            serial: Some(code.serial),
        });
    }
    let patient = PatientId::parse(text).map_err(field("patient"))?;
    let blocks: Vec<_> = store.id_blocks()?.into_iter().map(|b| b.block).collect();
    check_typed_id(&patient, &blocks).map_err(field("patient"))?;
    let form_code = if input.form.trim().is_empty() {
        page.form_code.clone().ok_or_else(|| IndexError::Field {
            field: "form",
            message: "choose the form (its code, e.g. PN, or its name)".into(),
        })?
    } else {
        find_form(&input.form).ok_or_else(|| IndexError::Field {
            field: "form",
            message: format!(
                "'{}' is not a form; known: {}",
                input.form.trim(),
                forms.iter().map(|f| f.code.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })?
    };
    if let Some(own) = page.form_code.as_deref()
        && own != form_code
    {
        return Err(IndexError::Field {
            field: "form",
            message: format!("this page's own barcode says it is {own}, not {form_code}"),
        });
    }
    Ok(Assignment { patient_id: patient, form_code, serial: None })
}

/// Files a queued page by hand.
pub fn index_page(
    store: &mut Store,
    session: &Session,
    forms: &[FormDefinition],
    page_id: i64,
    input: &IndexInput,
) -> Result<ScannedPageRecord, IndexError> {
    session.require(Permission::FilePages)?;
    let actor = &session.actor();
    let page = store
        .scanned_page(page_id)?
        .ok_or_else(|| StoreError::Refused(format!("there is no scanned page {page_id}")))?;
    let assignment = read_input(store, forms, &page, input)?;
    Ok(store.assign_page(actor, page_id, &assignment)?)
}

/// Sets a page aside (not a kamikarte page, a blank sheet, a duplicate), with the reason.
pub fn set_aside(
    store: &mut Store,
    session: &Session,
    page_id: i64,
    reason: &str,
) -> Result<ScannedPageRecord, IndexError> {
    session.require(Permission::FilePages)?;
    Ok(store.set_page_aside(&session.actor(), page_id, reason)?)
}

/// Puts a filed or set-aside page back in the queue (a clerk's undo).
pub fn requeue(store: &mut Store, session: &Session, page_id: i64) -> Result<ScannedPageRecord, IndexError> {
    session.require(Permission::FilePages)?;
    Ok(store.requeue_page(&session.actor(), page_id)?)
}
