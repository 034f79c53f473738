//! The batch import of scanned pages: every page of every file is decoded, its barcode found,
//! its image stored, and it is filed (or queued, or known as a duplicate) in its own transaction.
//! Decoding runs on worker threads; filing runs on the caller's thread, in the order pages
//! arrive. Killed at any moment and run again, it files every page exactly once: a page already
//! taken from the same file is skipped before it is decoded, and an image already stored is
//! recognised by its hash.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use super::locate::{SearchBand, find_page_code};
use super::page_store::PageStore;
use super::pages::{PageImage, SourcePage, for_each_page, sniff};
use crate::auth::{AuthError, Session};
use crate::digest::sha256_hex;
use crate::domain::Permission;
use crate::form::{self, FormError};
use crate::store::{Filing, NewScannedPage, PageSource, Reading, Store, StoreError};

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// Files and folders (searched recursively; hidden files skipped).
    pub paths: Vec<PathBuf>,
    /// A hospital's own form definitions, overlaying the shipped ones.
    pub forms_dir: Option<PathBuf>,
    /// Decoding threads; `None` uses every core (up to four).
    pub workers: Option<usize>,
}

/// Live counts, reported after every page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub files: usize,
    pub files_done: usize,
    pub pages: usize,
    pub filed: usize,
    /// Filed although the registry or census did not know what the barcode names.
    pub filed_with_warning: usize,
    pub queued: usize,
    pub duplicates: usize,
    /// Exactly this image was stored already.
    pub same_image: usize,
    /// Taken from the same file by an earlier run.
    pub already_imported: usize,
    /// Files or pages that could not be read.
    pub unreadable: usize,
}

impl ImportCounts {
    /// One line for a person: what the import has done so far.
    pub fn summary(&self) -> String {
        format!(
            "files {}/{}  pages {}  filed {}  queued {}  duplicates {}  already imported {}  unreadable {}",
            self.files_done,
            self.files,
            self.pages,
            self.filed,
            self.queued,
            self.duplicates + self.same_image,
            self.already_imported,
            self.unreadable
        )
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PageReport {
    pub file: String,
    /// The page inside the file (1-based); the filing's `page` is the scanned page's number.
    pub source_page: u32,
    pub barcode: Option<String>,
    #[serde(flatten)]
    pub filing: Filing,
}

/// A file or page that could not be read, by name; the rest of the import went on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub page: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.page {
            Some(n) => write!(f, "{} page {n}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl PageReport {
    /// What a person should notice about this page; `None` when it was simply filed or had
    /// been imported before.
    pub fn notice(&self) -> Option<String> {
        let at = format!("{} page {}", self.file, self.source_page);
        match &self.filing {
            Filing::Filed { warning: Some(w), .. } => Some(format!("FILED WITH WARNING {at}: {w}")),
            Filing::Queued { page, reason } => Some(format!("QUEUED {at} as page {page}: {reason}")),
            Filing::Duplicate { of, .. } => Some(format!("DUPLICATE {at}: the same sheet as page {of}")),
            Filing::SameImage { of } => Some(format!("DUPLICATE {at}: the same image as page {of}")),
            Filing::Filed { warning: None, .. } | Filing::AlreadyImported { .. } => None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub counts: ImportCounts,
    pub pages: Vec<PageReport>,
    pub problems: Vec<Problem>,
    pub cancelled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    #[error("cannot list the folder {path}: {source}")]
    List { path: PathBuf, source: std::io::Error },
    #[error("no files to import in {0}")]
    NoFiles(String),
    #[error("the database has no file of its own to keep pages beside; open a database file")]
    NoPageStore,
    #[error("cannot store a page image under {path}: {source}")]
    PageStore { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const SYSTEM_FILES: [&str; 3] = ["thumbs.db", "desktop.ini", "ehthumbs.db"];

/// Every file under `paths`, folders walked in name order, hidden entries skipped.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
        let list = |source| ImportError::List { path: dir.to_path_buf(), source };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(list)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(list)?;
        entries.sort();
        for path in entries {
            let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
            // Hidden files, and the thumbnails and settings Windows leaves in a scanner's folder.
            if name.starts_with('.') || SYSTEM_FILES.contains(&name.as_str()) {
                continue;
            }
            // Links are not followed: a link back up the tree would never end.
            let kind = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta.file_type(),
                // A scanner's temporary file renamed away while we look: not a page.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(list(e)),
            };
            if kind.is_dir() {
                walk(&path, out)?
            } else if kind.is_file() {
                out.push(path)
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(ImportError::Missing(path.clone()));
        }
    }
    if files.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ImportError::NoFiles(names.join(", ")));
    }
    Ok(files)
}

/// What a worker hands to the filing thread.
enum Work {
    Page { file: usize, page: u32, prepared: Result<Option<NewScannedPage>, String> },
    FileDone { file: usize, error: Option<String> },
}

/// The bytes to keep for a page: the scanner's own file when it came as one, else PNG.
fn stored_bytes(image: &PageImage) -> Result<(Vec<u8>, &'static str), String> {
    if let Some((bytes, format)) = &image.original {
        return Ok((bytes.clone(), format));
    }
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(&image.luma, image.width, image.height, image::ExtendedColorType::L8)
        .map_err(|e| format!("cannot encode the page as PNG: {e}"))?;
    Ok((png, "png"))
}

struct Worker<'a> {
    files: &'a [PathBuf],
    names: &'a [String],
    next: &'a AtomicUsize,
    done_before: &'a HashSet<(String, u32)>,
    band: &'a SearchBand,
    pages: &'a PageStore,
    cancel: &'a AtomicBool,
    tx: SyncSender<Work>,
}

impl Worker<'_> {
    fn run(self) {
        loop {
            let file = self.next.fetch_add(1, Ordering::Relaxed);
            if file >= self.files.len() || self.cancel.load(Ordering::Relaxed) {
                return;
            }
            // A decoder bug on one malformed file must not end the import of the others.
            let error = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.file(file)))
                .unwrap_or_else(|_| Err("the decoder failed on this file (malformed?)".into()))
                .err();
            if self.tx.send(Work::FileDone { file, error }).is_err() {
                return;
            }
        }
    }

    fn file(&self, file: usize) -> Result<(), String> {
        let bytes = std::fs::read(&self.files[file]).map_err(|e| format!("cannot read the file: {e}"))?;
        let kind = sniff(&bytes).ok_or("not a PNG, JPEG, TIFF or PDF file")?;
        let source_sha = sha256_hex(&bytes);
        // Once stopped, the remaining pages are not even decoded (and not reported: not seen).
        let skip = |page: u32| {
            self.cancel.load(Ordering::Relaxed) || self.done_before.contains(&(source_sha.clone(), page))
        };
        let mut gone = false;
        for_each_page(&bytes, kind, &skip, &mut |page, source_page| {
            if gone || self.cancel.load(Ordering::Relaxed) {
                gone = true;
                return;
            }
            let prepared = match source_page {
                SourcePage::Skipped => Ok(None),
                SourcePage::Unreadable(e) => Err(e),
                SourcePage::Image(image) => self.prepare(&image, &source_sha, page, file).map(Some),
            };
            gone = self.tx.send(Work::Page { file, page, prepared }).is_err();
        })
    }

    fn prepare(
        &self,
        image: &PageImage,
        source_sha: &str,
        page: u32,
        file: usize,
    ) -> Result<NewScannedPage, String> {
        // A reader's panic on a strange page leaves the page to a clerk, never loses it.
        let reading = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            find_page_code(&image.luma, image.width, image.height, self.band)
        }))
        .unwrap_or(Reading::Nothing);
        let (bytes, format) = stored_bytes(image)?;
        let stored = self
            .pages
            .put(&bytes, format, image.width, image.height)
            .map_err(|e| format!("cannot store the page image under {}: {e}", self.pages.root().display()))?;
        Ok(NewScannedPage {
            source: PageSource { sha256: source_sha.to_string(), page, name: self.names[file].clone() },
            image: stored,
            reading,
        })
    }
}

/// The name a file is reported by: its path as given.
fn display_names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|p| p.display().to_string()).collect()
}

/// Imports every page under `request.paths` into `pages` (the page store) and the database.
/// `progress` sees the counts after every page; setting `cancel` stops after the pages in hand.
pub fn import_pages(
    store: &mut Store,
    session: &Session,
    pages: &PageStore,
    request: &ImportRequest,
    progress: &mut dyn FnMut(&ImportCounts),
    cancel: &AtomicBool,
) -> Result<ImportReport, ImportError> {
    session.require(Permission::FilePages)?;
    let actor = &session.actor();
    let forms = form::load(request.forms_dir.as_deref())?;
    let band = SearchBand::from_forms(&forms);
    let files = collect_files(&request.paths)?;
    let names = display_names(&files);
    std::fs::create_dir_all(pages.root())
        .map_err(|source| ImportError::PageStore { path: pages.root().to_path_buf(), source })?;
    let done_before = store.imported_sources()?;
    let mut counts = ImportCounts { files: files.len(), ..Default::default() };
    let mut reports = Vec::new();
    let mut problems = Vec::new();
    progress(&counts);

    let workers = request
        .workers
        // Decoding is bound by memory bandwidth past four threads.
        .unwrap_or_else(|| crate::parallel::threads_for(files.len().min(4)))
        .max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let result = std::thread::scope(|scope| -> Result<(), ImportError> {
        let (tx, rx) = sync_channel(workers * 2);
        for _ in 0..workers {
            let worker = Worker {
                files: &files,
                names: &names,
                next: &next,
                done_before: &done_before,
                band: &band,
                pages,
                cancel: &stop,
                tx: tx.clone(),
            };
            scope.spawn(move || worker.run());
        }
        drop(tx);
        for work in rx {
            if cancel.load(Ordering::Relaxed) {
                stop.store(true, Ordering::Relaxed);
            }
            match work {
                Work::Page { file, page, prepared } => {
                    counts.pages += 1;
                    let (filing, barcode) = match prepared {
                        Ok(Some(new)) => {
                            let barcode = match &new.reading {
                                Reading::Code { code, .. } => Some(code.encode()),
                                Reading::Foreign(text) => Some(text.clone()),
                                Reading::Nothing => None,
                            };
                            let filing = store.file_scanned_page(actor, &new).inspect_err(|_| {
                                stop.store(true, Ordering::Relaxed);
                            })?;
                            (filing, barcode)
                        }
                        Ok(None) => {
                            counts.already_imported += 1;
                            progress(&counts);
                            continue;
                        }
                        Err(message) => {
                            counts.unreadable += 1;
                            problems.push(Problem { file: names[file].clone(), page: Some(page), message });
                            progress(&counts);
                            continue;
                        }
                    };
                    match &filing {
                        Filing::Filed { warning, .. } => {
                            counts.filed += 1;
                            counts.filed_with_warning += usize::from(warning.is_some());
                        }
                        Filing::Queued { .. } => counts.queued += 1,
                        Filing::Duplicate { .. } => counts.duplicates += 1,
                        Filing::SameImage { .. } => counts.same_image += 1,
                        Filing::AlreadyImported { .. } => counts.already_imported += 1,
                    }
                    reports.push(PageReport {
                        file: names[file].clone(),
                        source_page: page,
                        barcode,
                        filing,
                    });
                }
                Work::FileDone { file, error } => {
                    counts.files_done += 1;
                    if let Some(message) = error {
                        counts.unreadable += 1;
                        problems.push(Problem { file: names[file].clone(), page: None, message });
                    }
                }
            }
            progress(&counts);
        }
        Ok(())
    });
    result?;
    Ok(ImportReport { counts, pages: reports, problems, cancelled: cancel.load(Ordering::Relaxed) })
}
