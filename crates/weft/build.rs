//! Computes a hash of the sources that determine generated code (this
//! crate, the translator and the module environment) so that precompiled
//! artifacts and code-cache entries from a different build of weft are
//! rejected even when the version number did not change
//! (`WEFT_SOURCE_HASH`, part of the artifact fingerprint).

use std::path::{Path, PathBuf};

/// FNV-1a, 64 bits: stable across Rust versions, needs no dependency.
fn fnv(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x100_0000_01b3);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let crates = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut files = Vec::new();
    for dir in [
        manifest.join("src"),
        crates.join("cranelift/src"),
        crates.join("environ/src"),
    ] {
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, &mut files);
    }
    let lock = crates.parent().map(|w| w.join("Cargo.lock"));
    if let Some(lock) = lock.filter(|l| l.exists()) {
        println!("cargo:rerun-if-changed={}", lock.display());
        files.push(lock);
    }
    files.sort();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for f in &files {
        // Relative names: the same sources in another checkout hash alike.
        let name = f
            .strip_prefix(crates.parent().unwrap_or(&crates))
            .unwrap_or(f);
        fnv(&mut hash, name.to_string_lossy().as_bytes());
        if let Ok(bytes) = std::fs::read(f) {
            fnv(&mut hash, &bytes);
        }
    }
    println!("cargo:rustc-env=WEFT_SOURCE_HASH={hash:016x}");
}
