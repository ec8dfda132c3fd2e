//! The code cache: compiled modules kept on disk between runs.
//!
//! ```text
//! <dir>/<sha256(fingerprint, module bytes)>.cwasm    one precompiled artifact
//! <dir>/.<key>.<pid>.<n>.tmp                          an entry being written
//! ```
//!
//! An entry is the artifact format of `crate::artifact`, so it carries the
//! engine fingerprint and a checksum: a damaged or foreign entry fails to
//! load, is counted as rejected, and is compiled and written again. The
//! embedded module bytes are compared with the module being compiled, so
//! even a key collision cannot serve the wrong code.
//!
//! Writing goes to a temporary file in the same directory, then a rename
//! over the final name: readers see either no entry or a complete one, and
//! concurrent writers of one key each install a complete file (the last
//! rename wins). A hit updates the entry's modification time; after each
//! write the directory is trimmed to the configured size by deleting the
//! entries with the oldest modification time (least recently used) first.

use crate::vm::CompiledModule;
use crate::{Engine, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Default bound of the cache's total size: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// Temporary files older than this are leftovers of a crashed writer.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// The cache directory the CLI uses: `$XDG_CACHE_HOME/weft`, else
/// `$HOME/.cache/weft`; `None` when neither variable is set (absolute).
pub fn default_cache_directory() -> Option<PathBuf> {
    let abs = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").and_then(abs) {
        return Some(x.join("weft"));
    }
    std::env::var_os("HOME")
        .and_then(abs)
        .map(|h| h.join(".cache").join("weft"))
}

/// Counts of how the code cache served an engine's compilations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules loaded from the cache.
    pub hits: u64,
    /// Modules compiled because no entry existed.
    pub misses: u64,
    /// Entries that existed but could not be used (damaged, from another
    /// build or configuration, or for other module bytes) and were rebuilt.
    pub rejected: u64,
    /// Entries that could not be written (the module still compiled).
    pub write_errors: u64,
}

#[derive(Default)]
pub(crate) struct StatCounters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
}

impl StatCounters {
    pub(crate) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
        }
    }
}

/// The entry name for module bytes `wasm` on `engine`.
fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(crate::artifact::fingerprint(engine).as_bytes());
    h.update([0u8]);
    h.update(wasm);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads module bytes `wasm` from the cache in `dir`, or compiles them and
/// stores the result. Cache problems never fail the compilation.
pub(crate) fn load_or_compile(engine: &Engine, dir: &Path, wasm: &[u8]) -> Result<CompiledModule> {
    let stats = &engine.inner.cache_stats;
    let key = key(engine, wasm);
    let path = dir.join(format!("{key}.cwasm"));
    match std::fs::File::open(&path) {
        Ok(file) => match CompiledModule::from_artifact(
            engine,
            crate::vm::ArtifactSource::File(file),
            Some(wasm),
        ) {
            Ok(m) => {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                // Recently used: evicted last. Best effort.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(SystemTime::now());
                }
                return Ok(m);
            }
            Err(_) => {
                stats.rejected.fetch_add(1, Ordering::Relaxed);
            }
        },
        Err(_) => {
            stats.misses.fetch_add(1, Ordering::Relaxed);
        }
    }
    let (info, parts) = CompiledModule::compile_parts(engine, wasm)?;
    let written = crate::artifact::serialize(engine, wasm, &info, &parts)
        .and_then(|bytes| write_atomic(dir, &key, &path, &bytes));
    match written {
        Ok(()) => trim(dir, engine.config().cache_max_size, &path),
        Err(_) => {
            stats.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    CompiledModule::from_parts(engine, info, &parts)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(dir: &Path, key: &str, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{key}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(result?)
}

/// Deletes the least recently used entries until the directory holds at
/// most `max` bytes of entries, keeping `keep` (the entry just written),
/// and removes stale temporary files. Best effort: errors are ignored
/// (another process may be trimming at the same time).
fn trim(dir: &Path, max: u64, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut files: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
    let mut total = 0u64;
    for e in entries.flatten() {
        let p = e.path();
        let Ok(md) = e.metadata() else { continue };
        if !md.is_file() {
            continue;
        }
        let modified = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            if now
                .duration_since(modified)
                .is_ok_and(|age| age > STALE_TMP)
            {
                let _ = std::fs::remove_file(&p);
            }
            continue;
        }
        if !name.ends_with(".cwasm") {
            continue;
        }
        total += md.len();
        if p != keep {
            files.push((modified, md.len(), p));
        }
    }
    files.sort();
    for (_, len, p) in files {
        if total <= max {
            break;
        }
        if std::fs::remove_file(&p).is_ok() {
            total -= len;
        }
    }
}
