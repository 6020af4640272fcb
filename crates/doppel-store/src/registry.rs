//! Model registry: versioned model artefacts on disk, each with its metadata (what it was trained on, its
//! metrics, when), so a running twin loads a known model and an operator can tell which one made a prediction.
//!
//! Layout: `{dir}/{name}/{version:06}/model.json` (the artefact, opaque bytes to this module) and
//! `.../meta.json` (metadata, JSON text written by the caller). Versions of a name count up from 1. A version
//! is written into a temporary directory, every file fsynced, then the directory is renamed into place and
//! its parent fsynced: a crash leaves either the whole version or nothing (stale temporary directories are
//! ignored and removed at the next registration).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result, StoreError};
use crate::wal::sync_dir;

const ARTEFACT: &str = "model.json";
const META: &str = "meta.json";
const TMP_PREFIX: &str = ".tmp-";

/// One registered model version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersion {
    /// Model name (e.g. the plant's predictive models).
    pub name: String,
    /// Version number, from 1.
    pub version: u32,
    /// Metadata JSON as registered.
    pub meta: String,
    /// Directory of this version.
    pub dir: PathBuf,
}

/// A directory of versioned models.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    dir: PathBuf,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "name",
            format!(
                "{:?} is not a valid model name: 1 to 64 ASCII letters, digits, '_' or '-'",
                name.chars().take(80).collect::<String>()
            ),
        ))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path).at(path)?;
    f.write_all(bytes).at(path)?;
    f.sync_all().at(path)
}

impl ModelRegistry {
    /// Opens (creating if needed) the registry in `dir`.
    ///
    /// # Errors
    /// [`StoreError::Io`] when the directory cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<ModelRegistry> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).at(&dir)?;
        Ok(ModelRegistry { dir })
    }

    /// The registry directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Versions of `name`, ascending.
    fn versions(&self, name: &str) -> Result<Vec<u32>> {
        let d = self.dir.join(name);
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&d, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.at(&d)?;
            let n = e.file_name();
            let Some(s) = n.to_str() else { continue };
            if s.len() == 6
                && s.bytes().all(|b| b.is_ascii_digit())
                && e.path().join(META).is_file()
                && let Ok(v) = s.parse()
            {
                out.push(v);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Stores a new version of `name` durably and returns it.
    ///
    /// # Errors
    /// [`StoreError::InvalidArgument`] for a bad name; I/O errors (nothing half-written stays visible).
    pub fn register(&self, name: &str, meta: &str, artefact: &[u8]) -> Result<ModelVersion> {
        check_name(name)?;
        let ndir = self.dir.join(name);
        if !ndir.is_dir() {
            std::fs::create_dir_all(&ndir).at(&ndir)?;
            sync_dir(&self.dir)?;
        }
        // Remove temporary directories left by a crash.
        if let Ok(rd) = std::fs::read_dir(&ndir) {
            for e in rd.flatten() {
                if e.file_name().to_str().is_some_and(|s| s.starts_with(TMP_PREFIX)) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let version = self.versions(name)?.last().copied().unwrap_or(0) + 1;
        let tmp = ndir.join(format!("{TMP_PREFIX}{version:06}-{}", std::process::id()));
        let done = (|| {
            std::fs::create_dir(&tmp).at(&tmp)?;
            write_synced(&tmp.join(ARTEFACT), artefact)?;
            write_synced(&tmp.join(META), meta.as_bytes())?;
            sync_dir(&tmp)?;
            let fin = ndir.join(format!("{version:06}"));
            std::fs::rename(&tmp, &fin).at(&fin)?;
            sync_dir(&ndir)?;
            Ok(fin)
        })();
        match done {
            Ok(dir) => Ok(ModelVersion {
                name: name.to_string(),
                version,
                meta: meta.to_string(),
                dir,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    fn version_of(&self, name: &str, version: u32) -> Result<ModelVersion> {
        let dir = self.dir.join(name).join(format!("{version:06}"));
        let meta = std::fs::read_to_string(dir.join(META)).at(dir.join(META))?;
        Ok(ModelVersion {
            name: name.to_string(),
            version,
            meta,
            dir,
        })
    }

    /// The newest version of `name`, if any.
    ///
    /// # Errors
    /// Bad name or I/O errors.
    pub fn latest(&self, name: &str) -> Result<Option<ModelVersion>> {
        check_name(name)?;
        match self.versions(name)?.last() {
            Some(&v) => self.version_of(name, v).map(Some),
            None => Ok(None),
        }
    }

    /// A given version of `name`.
    ///
    /// # Errors
    /// Bad name; [`StoreError::Io`] (not found) when the version does not exist.
    pub fn get(&self, name: &str, version: u32) -> Result<ModelVersion> {
        check_name(name)?;
        self.version_of(name, version)
    }

    /// The artefact bytes of a version.
    ///
    /// # Errors
    /// I/O errors.
    pub fn artefact(&self, v: &ModelVersion) -> Result<Vec<u8>> {
        let p = v.dir.join(ARTEFACT);
        let mut f = File::open(&p).at(&p)?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut out).at(&p)?;
        Ok(out)
    }

    /// Every version of every model, by name then version.
    ///
    /// # Errors
    /// I/O errors.
    pub fn list(&self) -> Result<Vec<ModelVersion>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(&self.dir).at(&self.dir)? {
            let e = e.at(&self.dir)?;
            if let Some(s) = e.file_name().to_str()
                && check_name(s).is_ok()
                && e.path().is_dir()
            {
                names.push(s.to_string());
            }
        }
        names.sort();
        let mut out = Vec::new();
        for n in names {
            for v in self.versions(&n)? {
                out.push(self.version_of(&n, v)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_count_up_and_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let r = ModelRegistry::open(d.path()).unwrap();
        assert!(r.latest("plant").unwrap().is_none());
        let v1 = r.register("plant", r#"{"rmse":1}"#, b"model one").unwrap();
        let v2 = r.register("plant", r#"{"rmse":2}"#, b"model two").unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        // A crash mid-registration leaves a temporary directory: invisible, and cleaned up later.
        std::fs::create_dir(d.path().join("plant").join(".tmp-000003-1")).unwrap();
        let r = ModelRegistry::open(d.path()).unwrap();
        let latest = r.latest("plant").unwrap().unwrap();
        assert_eq!((latest.version, latest.meta.as_str()), (2, r#"{"rmse":2}"#));
        assert_eq!(r.artefact(&latest).unwrap(), b"model two");
        assert_eq!(r.artefact(&r.get("plant", 1).unwrap()).unwrap(), b"model one");
        r.register("other", "{}", b"x").unwrap();
        let all: Vec<(String, u32)> = r.list().unwrap().into_iter().map(|v| (v.name, v.version)).collect();
        assert_eq!(all, vec![("other".into(), 1), ("plant".into(), 1), ("plant".into(), 2)]);
        assert_eq!(r.register("plant", "{}", b"3").unwrap().version, 3);
        assert!(!d.path().join("plant").join(".tmp-000003-1").exists());
        assert!(r.register("../x", "{}", b"").is_err());
        assert!(r.get("plant", 9).is_err());
    }
}
