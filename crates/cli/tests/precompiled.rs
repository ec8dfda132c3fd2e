//! `weft compile -o` + `weft run --allow-precompiled`, and the CLI's code
//! cache (`$XDG_CACHE_HOME/weft`, `-C cache=n`). Every test points
//! `XDG_CACHE_HOME` at a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn guest(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name)
}

fn weft(cache_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .env("XDG_CACHE_HOME", cache_home)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cache_entries(cache_home: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(cache_home.join("weft"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn compile_then_run_precompiled() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reactor.cwasm");
    let out_s = out.to_str().unwrap();
    let src = guest("reactor.wat");
    let o = weft(tmp.path(), &["compile", src.to_str().unwrap(), "-o", out_s]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let direct = weft(
        tmp.path(),
        &[
            "run",
            "-C",
            "cache=n",
            "--invoke",
            "get",
            src.to_str().unwrap(),
            "5",
        ],
    );
    assert_eq!(stdout(&direct), "1005\n", "{}", stderr(&direct));
    let o = weft(
        tmp.path(),
        &["run", "--allow-precompiled", "--invoke", "get", out_s, "5"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&direct));

    // A command module too: exit status and arguments come through.
    let cmd = tmp.path().join("args.cwasm");
    let src = guest("exit_with_arg_count.wat");
    let o = weft(
        tmp.path(),
        &[
            "compile",
            src.to_str().unwrap(),
            "-o",
            cmd.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = weft(
        tmp.path(),
        &[
            "run",
            "--allow-precompiled",
            cmd.to_str().unwrap(),
            "a",
            "b",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    // Refused without the flag.
    let o = weft(tmp.path(), &["run", "--invoke", "get", out_s, "5"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is a precompiled module; pass `--allow-precompiled`"),
        "{}",
        stderr(&o)
    );

    // Built for other settings: a clear error naming the setting.
    let o = weft(
        tmp.path(),
        &[
            "run",
            "--allow-precompiled",
            "-O",
            "opt-level=0",
            "--invoke",
            "get",
            out_s,
            "5",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("incompatible") && stderr(&o).contains("opt_level"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damaged_precompiled_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m.cwasm");
    let src = guest("reactor.wat");
    let o = weft(
        tmp.path(),
        &[
            "compile",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let good = std::fs::read(&out).unwrap();
    let bad_path = tmp.path().join("bad.cwasm");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() - 7].to_vec()),
        ("damaged", {
            let mut b = good.clone();
            let n = b.len() - 3;
            b[n] ^= 1;
            b
        }),
    ];
    for (what, bytes) in cases {
        std::fs::write(&bad_path, bytes).unwrap();
        let o = weft(
            tmp.path(),
            &[
                "run",
                "--allow-precompiled",
                "--invoke",
                "get",
                bad_path.to_str().unwrap(),
                "5",
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains(what), "{what}: {}", stderr(&o));
        assert!(stderr(&o).contains("bad.cwasm"), "{}", stderr(&o));
    }
}

#[test]
fn cache_is_used_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let src = guest("reactor.wat");
    let run = |extra: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--invoke", "get", src.to_str().unwrap(), "5"]);
        let o = weft(tmp.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), "1005\n");
    };

    // `-C cache=n`: nothing is written.
    run(&["-C", "cache=n"]);
    assert!(!tmp.path().join("weft").exists());

    run(&[]);
    let entries = cache_entries(tmp.path());
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = entries[0].clone();
    let first = std::fs::read(&entry).unwrap();
    assert!(first.starts_with(b"WEFTCWSM"));
    run(&[]);
    assert_eq!(cache_entries(tmp.path()), std::slice::from_ref(&entry));

    // A damaged entry is ignored and written again.
    let mut bad = first.clone();
    let n = bad.len() / 2;
    bad[n] ^= 0x40;
    std::fs::write(&entry, &bad).unwrap();
    run(&[]);
    let repaired = std::fs::read(&entry).unwrap();
    assert_ne!(repaired, bad);
    assert_eq!(repaired.len(), first.len());
    assert_eq!(cache_entries(tmp.path()), [entry]);
}

#[test]
fn concurrent_runs_share_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let src = guest("reactor.wat");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["run", "--invoke", "get", src.to_str().unwrap(), "7"])
                .env("XDG_CACHE_HOME", tmp.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), "1007\n");
    }
    let entries = cache_entries(tmp.path());
    assert_eq!(
        entries.len(),
        1,
        "one entry, no temporary files: {entries:?}"
    );
}
