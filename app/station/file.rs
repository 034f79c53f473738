//! The signed file a station bundle or a station snapshot travels in (README, "Stations and the
//! hub", documents it): JSON lines, UTF-8.
//!
//! - line 1, the header: `{"format": "kamikarte-station-file", "version": 1, "kind": "bundle" |
//!   "snapshot", "from": signer's station code, "station": the station the rows are of (a
//!   bundle) or for (a snapshot), "seq", "whole", "created_at", "created_by", "public_key" (hex
//!   Ed25519), "rows"}`;
//! - one line per row: `{"table": …, "row": {column: value, …}}`;
//! - last line: `{"signature": hex}`, the Ed25519 signature of the SHA-256 of every byte before it.
//!
//! The file is written beside its destination and renamed into place, so a kill leaves no
//! half-written bundle under its name.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, TravellingRow};

pub const FORMAT: &str = "kamikarte-station-file";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Bundle,
    Snapshot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub kind: Kind,
    pub from: String,
    pub station: String,
    pub seq: i64,
    pub whole: bool,
    pub created_at: String,
    pub created_by: String,
    pub public_key: String,
    pub rows: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {message}", path.display())]
    Bad { path: PathBuf, line: usize, message: String },
    #[error(
        "{}: the signature does not match its contents: the file was changed or cut short after it was written; nothing was changed (write it again at the station)",
        path.display()
    )]
    Forged { path: PathBuf },
}

/// This database's signing key (derived from its audit key).
pub fn signing_key(store: &Store) -> SigningKey {
    SigningKey::from_bytes(&store.signing_seed())
}

pub fn public_key_hex(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}

#[derive(Serialize)]
struct Line<'a> {
    table: &'a str,
    row: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct OwnedLine {
    table: String,
    row: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct SignatureLine {
    signature: String,
}

/// Writes header, rows and signature to `path` (through a file beside it, renamed into place).
/// Returns the digest the signature covers (hex).
pub fn write(
    path: &Path,
    header: &Header,
    rows: &[TravellingRow],
    key: &SigningKey,
) -> Result<String, FileError> {
    let failed = |source| FileError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    // A folder on the stick made for it (`--out /media/usb/2026-12-05/W3.bundle`).
    crate::files::create_private_dir_all(dir).map_err(failed)?;
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    let mut out = BufWriter::new(temp.as_file());
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8], out: &mut BufWriter<&std::fs::File>| -> std::io::Result<()> {
        hasher.update(bytes);
        out.write_all(bytes)
    };
    let mut line = serde_json::to_vec(header).expect("a header serialises");
    line.push(b'\n');
    put(&line, &mut out).map_err(failed)?;
    for r in rows {
        let mut line = serde_json::to_vec(&Line { table: &r.table, row: &r.row }).expect("a row serialises");
        line.push(b'\n');
        put(&line, &mut out).map_err(failed)?;
    }
    let digest = hasher.finalize();
    let signature = SignatureLine { signature: hex::encode(key.sign(&digest).to_bytes()) };
    let mut line = serde_json::to_vec(&signature).expect("a signature serialises");
    line.push(b'\n');
    out.write_all(&line).map_err(failed)?;
    out.flush().map_err(failed)?;
    drop(out);
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(path).map_err(|e| failed(e.error))?;
    Ok(hex::encode(digest))
}

/// A file read and its signature checked against the key its header names (whether that key
/// is the one expected is the store's to say).
#[derive(Debug)]
pub struct Verified {
    pub header: Header,
    pub rows: Vec<TravellingRow>,
    pub digest: String,
}

/// Reads `path`, checks its signature, then its header and rows; every fault is named by line.
pub fn read(path: &Path) -> Result<Verified, FileError> {
    let bytes = std::fs::read(path).map_err(|source| FileError::Read { path: path.to_path_buf(), source })?;
    let bad = |line: usize, message: String| FileError::Bad { path: path.to_path_buf(), line, message };
    let body_end =
        bytes[..bytes.len().saturating_sub(1)].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let (body, last) = bytes.split_at(body_end);
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    let last_line = lines.len() + 1;
    if lines.is_empty() {
        return Err(bad(1, "not a kamikarte station file (no header)".into()));
    }
    let header: Header = serde_json::from_slice(lines[0])
        .map_err(|e| bad(1, format!("not a kamikarte station file header: {e}")))?;
    if header.format != FORMAT {
        return Err(bad(1, format!("format is '{}', not '{FORMAT}'", header.format)));
    }
    if header.version != VERSION {
        return Err(bad(
            1,
            format!(
                "version {} is not one this kamikarte reads ({VERSION}): update kamikarte",
                header.version
            ),
        ));
    }
    let signature: SignatureLine = serde_json::from_slice(last.trim_ascii_end()).map_err(|e| {
        bad(last_line, format!("the last line is not the signature (the file is cut short?): {e}"))
    })?;
    let key_bytes: [u8; 32] = hex::decode(&header.public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(1, "public_key is not 64 hex digits".into()))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|e| bad(1, format!("public_key: {e}")))?;
    let sig_bytes: [u8; 64] = hex::decode(&signature.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad(last_line, "signature is not 128 hex digits".into()))?;
    let digest = Sha256::digest(body);
    key.verify_strict(&digest, &Signature::from_bytes(&sig_bytes))
        .map_err(|_| FileError::Forged { path: path.to_path_buf() })?;
    let mut rows = Vec::with_capacity(lines.len() - 1);
    for (i, line) in lines.iter().enumerate().skip(1) {
        let parsed: OwnedLine =
            serde_json::from_slice(line).map_err(|e| bad(i + 1, format!("not a row: {e}")))?;
        rows.push(TravellingRow { table: parsed.table, row: parsed.row, line: i + 1 });
    }
    if rows.len() != header.rows {
        return Err(bad(1, format!("the header counts {} rows, the file holds {}", header.rows, rows.len())));
    }
    Ok(Verified { header, rows, digest: hex::encode(digest) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(key: &SigningKey, rows: usize) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            kind: Kind::Bundle,
            from: "W1".into(),
            station: "W1".into(),
            seq: 1,
            whole: true,
            created_at: "2026-12-05T01:00:00.000Z".into(),
            created_by: "clerk".into(),
            public_key: public_key_hex(key),
            rows,
        }
    }

    fn row(n: i64) -> TravellingRow {
        let mut row = serde_json::Map::new();
        row.insert("id".into(), n.into());
        row.insert("text".into(), "メモ".into());
        TravellingRow { table: "episode_notes".into(), row, line: 0 }
    }

    #[test]
    fn a_written_file_reads_back_with_its_rows_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w1.kkb");
        let key = SigningKey::from_bytes(&[7; 32]);
        let digest = write(&path, &header(&key, 2), &[row(1), row(2)], &key).unwrap();
        let read = read(&path).unwrap();
        assert_eq!(read.digest, digest);
        assert_eq!(read.header, header(&key, 2));
        assert_eq!(
            read.rows.iter().map(|r| (r.line, r.row["id"].as_i64().unwrap())).collect::<Vec<_>>(),
            [(2, 1), (3, 2)]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn a_changed_byte_or_a_cut_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w1.kkb");
        let key = SigningKey::from_bytes(&[7; 32]);
        write(&path, &header(&key, 2), &[row(1), row(2)], &key).unwrap();
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, good.replace("\"id\":2", "\"id\":3")).unwrap();
        assert!(matches!(read(&path), Err(FileError::Forged { .. })));
        let cut: Vec<&str> = good.lines().collect();
        std::fs::write(&path, cut[..2].join("\n") + "\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("signature"), "{err}");
    }

    #[test]
    fn a_file_signed_by_another_key_than_its_header_names_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w1.kkb");
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        write(&path, &header(&other, 1), &[row(1)], &key).unwrap();
        assert!(matches!(read(&path), Err(FileError::Forged { .. })));
    }
}
