//! Content-addressed blob files: page bodies, evidence, fetch metadata.
//!
//! A blob is stored once under `sha256/ab/cdef…` and never changed. Writes go
//! to a temporary file in the same directory, are fsynced and then renamed
//! into place, so a crash leaves either the whole blob or none of it.

use crate::{Result, StoreError};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The blob directory.
#[derive(Clone, Debug)]
pub struct Blobs {
    root: PathBuf,
}

/// The SHA-256 of some bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Blobs {
    /// Opens (creating if needed) a blob directory.
    pub fn open(root: &Path) -> Result<Blobs> {
        fs::create_dir_all(root.join("sha256")).map_err(io_error(root))?;
        Ok(Blobs {
            root: root.to_path_buf(),
        })
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::BadDigest(sha256.to_string()));
        }
        Ok(self
            .root
            .join("sha256")
            .join(&sha256[..2])
            .join(&sha256[2..]))
    }

    /// Stores bytes and returns their SHA-256; storing the same bytes again
    /// costs a hash and a stat.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let digest = sha256_hex(bytes);
        let path = self.path(&digest)?;
        if path.exists() {
            return Ok(digest);
        }
        let dir = path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let mut temp = tempfile_in(dir)?;
        temp.1.write_all(bytes).map_err(io_error(&temp.0))?;
        temp.1.sync_all().map_err(io_error(&temp.0))?;
        drop(temp.1);
        fs::rename(&temp.0, &path).map_err(io_error(&path))?;
        // Make the rename itself durable.
        if let Ok(dir_handle) = fs::File::open(dir) {
            let _ = dir_handle.sync_all();
        }
        Ok(digest)
    }

    /// Reads a blob back, refusing it when its bytes no longer match its name.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path(sha256)?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::MissingBlob {
                    sha256: sha256.to_string(),
                    path,
                });
            }
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(StoreError::CorruptBlob {
                sha256: sha256.to_string(),
                path,
                actual,
            });
        }
        Ok(bytes)
    }
}

/// Creates a uniquely named temporary file next to where the blob will go.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let name = format!(
            ".tmp-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(StoreError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let digest = blobs.put(b"approved page").unwrap();
        assert_eq!(digest, sha256_hex(b"approved page"));
        assert_eq!(blobs.put(b"approved page").unwrap(), digest);
        assert_eq!(blobs.get(&digest).unwrap(), b"approved page");

        fs::write(blobs.path(&digest).unwrap(), b"changed on disk").unwrap();
        assert!(matches!(
            blobs.get(&digest),
            Err(StoreError::CorruptBlob { .. })
        ));
        assert!(matches!(
            blobs.get(&sha256_hex(b"never stored")),
            Err(StoreError::MissingBlob { .. })
        ));
        assert!(matches!(
            blobs.get("../../etc/passwd"),
            Err(StoreError::BadDigest(_))
        ));
    }
}
