//! The page store: scanned page images as files beside the database, each named by the SHA-256
//! of its bytes. Writing a page twice is harmless, and a file appears under its name only once it
//! is whole and on disk, so an import killed at any moment leaves at worst an unused file.

use std::path::{Path, PathBuf};

use crate::store::{ScannedPageRecord, StoredImage};

/// Why a stored page image cannot be shown.
#[derive(Debug, thiserror::Error)]
pub enum PageImageError {
    #[error("cannot read page image {file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("cannot decode page image {file}: {message}")]
    Decode { file: String, message: String },
}

#[derive(Debug, Clone)]
pub struct PageStore {
    root: PathBuf,
}

use crate::digest::sha256_hex;

impl PageStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The store that belongs to a database file: `kamikarte.sqlite` keeps its pages in
    /// `kamikarte-pages/` beside it.
    pub fn beside(db: &Path) -> Self {
        let db = &crate::store::local_path(db);
        let stem =
            db.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "kamikarte".into());
        Self::new(db.with_file_name(format!("{stem}-pages")))
    }

    /// The store of an open database: the `pages.dir` setting (a hub's shared folder), else
    /// beside the database. `None` for a database in memory without the setting.
    pub fn of(store: &crate::store::Store) -> Result<Option<Self>, crate::store::StoreError> {
        if let Some(dir) = store.settings()?.pages_dir {
            return Ok(Some(Self::new(dir)));
        }
        Ok(store.path().map(Self::beside))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }

    /// Stores a page image (`format` is `png` or `jpeg`) and says where.
    pub fn put(
        &self,
        bytes: &[u8],
        format: &'static str,
        width: u32,
        height: u32,
    ) -> std::io::Result<StoredImage> {
        let sha256 = sha256_hex(bytes);
        let ext = if format == "jpeg" { "jpg" } else { "png" };
        let file = format!("{}/{sha256}.{ext}", &sha256[..2]);
        let path = self.root.join(&file);
        let whole = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !whole {
            let dir = path.parent().expect("a stored page has a folder");
            crate::files::create_private_dir_all(dir)?;
            crate::files::write_private_atomic(&path, bytes, true)?;
            crate::files::sync_dir(dir)?;
        }
        Ok(StoredImage { sha256, file, format, width, height })
    }

    pub fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path_of(file))
    }

    /// A stored page in grey, turned upright when it was scanned upside down: what the screens
    /// show and what the tick boxes are read from.
    pub fn upright(&self, page: &ScannedPageRecord) -> Result<image::GrayImage, PageImageError> {
        let bytes = self
            .read(&page.image_file)
            .map_err(|e| PageImageError::Read { file: page.image_file.clone(), source: e })?;
        let image = image::load_from_memory(&bytes)
            .map_err(|e| PageImageError::Decode { file: page.image_file.clone(), message: e.to_string() })?;
        let mut gray = image.into_luma8();
        if page.upside_down {
            image::imageops::rotate180_in_place(&mut gray);
        }
        Ok(gray)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = PageStore::new(dir.path());
        let a = store.put(b"page bytes", "png", 1, 1).unwrap();
        let b = store.put(b"page bytes", "png", 1, 1).unwrap();
        assert_eq!(a, b);
        assert!(a.file.ends_with(&format!("{}.png", a.sha256)) && a.file.starts_with(&a.sha256[..2]));
        assert_eq!(store.read(&a.file).unwrap(), b"page bytes");
        let files: Vec<_> = std::fs::read_dir(dir.path().join(&a.sha256[..2])).unwrap().collect();
        assert_eq!(files.len(), 1, "no temporary file is left behind");
        assert!(store.put(b"jpeg bytes", "jpeg", 1, 1).unwrap().file.ends_with(".jpg"));
    }

    #[test]
    fn a_databases_pages_live_beside_it() {
        let s = PageStore::beside(Path::new("/data/kamikarte.sqlite"));
        assert_eq!(s.root(), Path::new("/data/kamikarte-pages"));
    }
}
