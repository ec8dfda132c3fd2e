//! WASI preview1 behaviour: exit statuses, argument and environment round
//! trips, guest-memory bounds checks, and the sandbox (no way out of a
//! preopened directory through `..`, absolute paths or symlinks).

use std::path::Path;
use weft::{Engine, Instance, Linker, Module, Store, Val};
use weft_wasi::{Errno, I32Exit, OutputPipe, OutputStream, WasiCtx, WasiCtxBuilder};

fn guest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/guests")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

struct Guest {
    store: Store<WasiCtx>,
    instance: Instance,
}

impl Guest {
    fn new(file: &str, builder: &mut WasiCtxBuilder) -> Guest {
        let engine = Engine::default();
        let module = Module::from_file(&engine, guest(file)).unwrap();
        let mut store = Store::new(&engine, builder.build());
        let mut linker = Linker::new(&engine);
        weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
        let instance = linker.instantiate(&mut store, &module).unwrap();
        Guest { store, instance }
    }

    fn call(&mut self, name: &str, args: &[Val]) -> weft::Result<i32> {
        let f = self.instance.get_func(&mut self.store, name).unwrap();
        let mut out = [Val::I32(0)];
        let n = f.ty(&self.store).results().len();
        f.call(&mut self.store, args, &mut out[..n])?;
        Ok(out[0].unwrap_i32())
    }

    /// Calls a wrapper and returns the errno.
    fn errno(&mut self, name: &str, args: &[Val]) -> u16 {
        self.call(name, args).unwrap() as u16
    }

    fn mem(&mut self) -> &mut [u8] {
        let m = self.instance.get_memory(&mut self.store, "memory").unwrap();
        m.data_mut(&mut self.store)
    }

    /// Puts `s` at `ptr` and returns `(ptr, len)` as arguments.
    fn string(&mut self, ptr: u32, s: &str) -> (Val, Val) {
        self.mem()[ptr as usize..][..s.len()].copy_from_slice(s.as_bytes());
        (Val::I32(ptr as i32), Val::I32(s.len() as i32))
    }

    fn u32_at(&mut self, ptr: u32) -> u32 {
        u32::from_le_bytes(self.mem()[ptr as usize..][..4].try_into().unwrap())
    }
}

const E: fn(Errno) -> u16 = |e| e as u16;
const ALL_RIGHTS: i64 = (1 << 30) - 1;

fn i(v: i32) -> Val {
    Val::I32(v)
}

/// `path_open(dirfd 3, path)` with `oflags`; the errno.
fn open(g: &mut Guest, path: &str, oflags: i32) -> u16 {
    let (p, l) = g.string(1024, path);
    g.errno(
        "path_open",
        &[
            i(3),
            i(1), // follow symlinks
            p,
            l,
            i(oflags),
            Val::I64(ALL_RIGHTS),
            Val::I64(ALL_RIGHTS),
            i(0),
            i(512),
        ],
    )
}

/// A sandbox: `root/` is preopened, `outside/secret` sits next to it, and
/// `root` holds symlinks pointing out.
fn sandbox() -> (tempfile::TempDir, Guest) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "secret").unwrap();
    std::fs::write(root.join("inside"), "inside").unwrap();
    std::os::unix::fs::symlink("../outside", root.join("rel_out")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("abs_out")).unwrap();
    std::os::unix::fs::symlink("inside", root.join("ok_link")).unwrap();
    let g = Guest::new(
        "wrappers.wat",
        WasiCtx::builder().preopened_dir(&root, "/").unwrap(),
    );
    (tmp, g)
}

fn is_denied(errno: u16) -> bool {
    errno == E(Errno::Perm) || errno == E(Errno::Notcapable)
}

#[test]
fn sandbox_open_escapes_are_denied() {
    let (_tmp, mut g) = sandbox();
    assert_eq!(open(&mut g, "inside", 0), 0);
    assert_eq!(open(&mut g, "ok_link", 0), 0);
    for path in [
        "../outside/secret",
        "../../../../../../etc/passwd",
        "sub/../../outside/secret",
        "/etc/passwd",
        "rel_out/secret",
        "abs_out/secret",
        "rel_out",
        "abs_out",
    ] {
        let errno = open(&mut g, path, 0);
        assert!(
            is_denied(errno) || (path.starts_with("sub/") && errno == E(Errno::Noent)),
            "{path}: errno {errno}"
        );
    }
}

#[test]
fn sandbox_writes_never_touch_the_host_outside() {
    let (tmp, mut g) = sandbox();
    let outside = tmp.path().join("outside");
    const CREAT: i32 = 1;
    const TRUNC: i32 = 8;
    // An absolute host path outside the sandbox, unique to this run (so
    // that a file another program left does not decide the test).
    let host_path = std::env::temp_dir().join(format!("weft-escape-{}", std::process::id()));
    assert!(
        !host_path.exists(),
        "{} exists before the test",
        host_path.display()
    );
    let host_str = host_path.to_str().expect("a UTF-8 temp path").to_string();
    for path in ["../outside/new", "rel_out/new", "abs_out/new", &host_str] {
        assert!(is_denied(open(&mut g, path, CREAT)), "{path}");
    }
    assert!(is_denied(open(&mut g, "rel_out/secret", TRUNC)));
    let (p, l) = g.string(1024, "../outside/dir");
    assert!(is_denied(g.errno("path_create_directory", &[i(3), p, l])));
    let (p, l) = g.string(1024, "../outside/secret");
    assert!(is_denied(g.errno("path_unlink_file", &[i(3), p, l])));
    let (p, l) = g.string(1024, "rel_out/secret");
    assert!(is_denied(g.errno("path_unlink_file", &[i(3), p, l])));
    // Rename out of and into the sandbox.
    let (p1, l1) = g.string(1024, "inside");
    let (p2, l2) = g.string(2048, "../outside/stolen");
    assert!(is_denied(
        g.errno("path_rename", &[i(3), p1, l1, i(3), p2, l2])
    ));
    let (p1, l1) = g.string(1024, "abs_out/secret");
    let (p2, l2) = g.string(2048, "mine");
    assert!(is_denied(
        g.errno("path_rename", &[i(3), p1, l1, i(3), p2, l2])
    ));
    // Hard link to a file outside.
    let (p1, l1) = g.string(1024, "../outside/secret");
    let (p2, l2) = g.string(2048, "hard");
    assert!(is_denied(
        g.errno("path_link", &[i(3), i(0), p1, l1, i(3), p2, l2])
    ));
    // A symlink with an absolute target cannot be made; a relative one
    // pointing out can be made but not followed.
    let (p1, l1) = g.string(1024, "/etc");
    let (p2, l2) = g.string(2048, "etc");
    assert!(is_denied(g.errno("path_symlink", &[p1, l1, i(3), p2, l2])));
    let (p1, l1) = g.string(1024, "../outside/secret");
    let (p2, l2) = g.string(2048, "sneaky");
    assert_eq!(g.errno("path_symlink", &[p1, l1, i(3), p2, l2]), 0);
    assert!(is_denied(open(&mut g, "sneaky", 0)));
    assert!(is_denied(open(&mut g, "sneaky", TRUNC)));

    let mut names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["secret"]);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "secret"
    );
    assert!(!host_path.exists());
}

#[test]
fn stat_through_escaping_paths_is_denied() {
    let (_tmp, mut g) = sandbox();
    for path in ["..", "../outside", "abs_out/secret", "rel_out/secret", "/"] {
        let (p, l) = g.string(1024, path);
        let errno = g.errno("path_filestat_get", &[i(3), i(1), p, l, i(2048)]);
        assert!(is_denied(errno), "{path}: {errno}");
    }
    // Without following, the symlink itself is visible.
    let (p, l) = g.string(1024, "abs_out");
    assert_eq!(
        g.errno("path_filestat_get", &[i(3), i(0), p, l, i(2048)]),
        0
    );
    assert_eq!(g.mem()[2048 + 16], 7, "filetype symbolic_link");
}

#[test]
fn bad_guest_pointers_are_efault() {
    let (_tmp, mut g) = sandbox();
    let fault = E(Errno::Fault);
    let top = 65536;
    // iovec array out of bounds
    assert_eq!(g.errno("fd_write", &[i(1), i(top - 4), i(1), i(0)]), fault);
    // iovec buffer out of bounds
    g.mem()[0..8].copy_from_slice(&[0xf0, 0xff, 0, 0, 0x20, 0, 0, 0]);
    assert_eq!(g.errno("fd_write", &[i(1), i(0), i(1), i(16)]), fault);
    // result pointer out of bounds
    assert_eq!(g.errno("args_sizes_get", &[i(top), i(0)]), fault);
    assert_eq!(
        g.errno("clock_time_get", &[i(0), Val::I64(0), i(-1)]),
        fault
    );
    // path out of bounds / wrapping
    assert_eq!(
        g.errno("path_create_directory", &[i(3), i(-16), i(32)]),
        fault
    );
    assert_eq!(g.errno("random_get", &[i(top - 8), i(9)]), fault);
    assert_eq!(g.errno("random_get", &[i(top - 8), i(8)]), 0);
    assert_eq!(
        g.errno("poll_oneoff", &[i(top - 47), i(0), i(1), i(0)]),
        fault
    );
    // The store is still fine.
    assert_eq!(open(&mut g, "inside", 0), 0);
}

#[test]
fn errnos_for_bad_descriptors() {
    let (_tmp, mut g) = sandbox();
    assert_eq!(g.errno("fd_close", &[i(77)]), E(Errno::Badf));
    assert_eq!(g.errno("fd_prestat_get", &[i(3), i(0)]), 0);
    assert_eq!(g.u32_at(4), 1, "guest name `/`");
    assert_eq!(g.errno("fd_prestat_get", &[i(4), i(0)]), E(Errno::Badf));
    assert_eq!(g.errno("sock_shutdown", &[i(77), i(3)]), E(Errno::Badf));
    assert_eq!(g.errno("sock_shutdown", &[i(3), i(3)]), E(Errno::Notsock));
    assert_eq!(g.errno("proc_raise", &[i(9)]), E(Errno::Nosys));
}

#[test]
fn proc_exit_is_a_downcastable_error() {
    let (_tmp, mut g) = sandbox();
    let err = g.call("proc_exit", &[i(7)]).unwrap_err();
    assert_eq!(err.downcast_ref::<I32Exit>(), Some(&I32Exit(7)));
    assert_eq!(weft_wasi::exit_status(&err), Some(7));
    // The store stays usable after the exit unwound the guest.
    assert_eq!(open(&mut g, "inside", 0), 0);
}

fn run(file: &str, builder: &mut WasiCtxBuilder) -> (weft::Result<i32>, String) {
    let out = OutputPipe::new();
    builder.stdout(OutputStream::Pipe(out.clone()));
    let mut g = Guest::new(file, builder);
    let status = weft_wasi::run_command(&mut g.store, &g.instance);
    (status, String::from_utf8(out.contents()).unwrap())
}

#[test]
fn command_exit_status_args_and_env_round_trip() {
    let (status, out) = run(
        "exit_with_arg_count.wat",
        WasiCtx::builder()
            .args(["prog", "first", "the \"second\" arg", "", "ünï"])
            .env("A", "1")
            .env("PATH", "/bin:/usr/bin")
            .env("EMPTY", ""),
    );
    assert_eq!(status.unwrap(), 5);
    assert_eq!(
        out,
        "prog\nfirst\nthe \"second\" arg\n\nünï\nA=1\nPATH=/bin:/usr/bin\nEMPTY=\n"
    );

    let (status, out) = run("exit_with_arg_count.wat", &mut WasiCtx::builder());
    assert_eq!(status.unwrap(), 0);
    assert_eq!(out, "");
}

#[test]
fn traps_are_errors_not_exit_statuses() {
    let (status, _) = run("trap.wat", &mut WasiCtx::builder());
    let err = status.unwrap_err();
    assert!(err.downcast_ref::<weft::Trap>().is_some(), "{err:?}");
    assert_eq!(weft_wasi::exit_status(&err), None);
}

#[test]
fn reactor_initialize() {
    let mut g = Guest::new("reactor.wat", &mut WasiCtx::builder());
    assert!(!weft_wasi::is_command(&g.instance.module(&g.store)));
    assert!(g.call("get", &[i(1)]).is_err(), "not initialised yet");
    weft_wasi::initialize_reactor(&mut g.store, &g.instance).unwrap();
    assert_eq!(g.call("get", &[i(1)]).unwrap(), 1001);
}

/// Each calling instance gets its own memory, also when instances of one
/// store take turns (the memory is looked up once per instance).
#[test]
fn calls_from_several_instances_use_each_ones_memory() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "wasi_snapshot_preview1" "args_sizes_get"
            (func $sizes (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "run") (param i32) (result i32)
            local.get 0 local.get 0 i32.const 4 i32.add call $sizes))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, WasiCtx::builder().args(["a", "bb", "ccc"]).build());
    let mut linker = Linker::new(&engine);
    weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let instances: Vec<Instance> = (0..3)
        .map(|_| linker.instantiate(&mut store, &module).unwrap())
        .collect();
    let read = |store: &mut Store<WasiCtx>, i: Instance, at: usize| {
        let m = i.get_memory(&mut *store, "memory").unwrap();
        let d = &m.data(&*store)[at..at + 8];
        (
            u32::from_le_bytes(d[..4].try_into().unwrap()),
            u32::from_le_bytes(d[4..].try_into().unwrap()),
        )
    };
    // Instance k writes at 16 + 32 * round + 8 * k, in turns.
    for round in 0..2 {
        for (k, i) in instances.iter().enumerate() {
            let run = i.get_typed_func::<i32, i32>(&mut store, "run").unwrap();
            let at = 16 + 32 * round + 8 * k;
            assert_eq!(run.call(&mut store, at as i32).unwrap(), 0);
        }
    }
    for round in 0..2 {
        for (k, i) in instances.iter().enumerate() {
            for (j, _) in instances.iter().enumerate() {
                let at = 16 + 32 * round + 8 * j;
                // Argument count 3, buffer size 2 + 3 + 4 (NUL-terminated).
                let want = if j == k { (3, 9) } else { (0, 0) };
                assert_eq!(read(&mut store, *i, at), want, "instance {k}, slot {j}");
            }
        }
    }
}

impl Guest {
    fn u64_at(&mut self, ptr: u32) -> u64 {
        u64::from_le_bytes(self.mem()[ptr as usize..][..8].try_into().unwrap())
    }

    /// Writes iovecs `(ptr, len)` at `at` and returns `at`.
    fn iovecs(&mut self, at: u32, iovs: &[(u32, u32)]) -> i32 {
        for (k, &(p, l)) in iovs.iter().enumerate() {
            let e = at as usize + 8 * k;
            self.mem()[e..e + 4].copy_from_slice(&p.to_le_bytes());
            self.mem()[e + 4..e + 8].copy_from_slice(&l.to_le_bytes());
        }
        at as i32
    }
}

#[test]
fn clock_time_get_results_and_errors() {
    let (_tmp, mut g) = sandbox();
    let get =
        |g: &mut Guest, id: i32, at: i32| g.errno("clock_time_get", &[i(id), Val::I64(1), i(at)]);
    // Every clock gives a non-zero time; realtime is the host's.
    for id in 0..4 {
        g.mem()[64..72].fill(0);
        assert_eq!(get(&mut g, id, 64), 0, "clock {id}");
        assert_ne!(g.u64_at(64), 0, "clock {id}");
    }
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert_eq!(get(&mut g, 0, 64), 0);
    let guest = g.u64_at(64);
    assert!(
        guest.abs_diff(host) < 60_000_000_000,
        "realtime {guest} vs host {host}"
    );
    // The monotonic clock does not go back, also over many calls.
    let mut last = 0;
    for _ in 0..1000 {
        assert_eq!(get(&mut g, 1, 64), 0);
        let t = g.u64_at(64);
        assert!(t >= last, "monotonic went from {last} to {t}");
        last = t;
    }
    // An unknown clock is EINVAL and writes nothing.
    g.mem()[64..72].fill(0xaa);
    for id in [4, 5, -1] {
        assert_eq!(get(&mut g, id, 64), E(Errno::Inval), "clock {id}");
    }
    assert_eq!(g.u64_at(64), 0xaaaa_aaaa_aaaa_aaaa);
    // The result must fit in memory: the last 8 bytes do, one further does not.
    let top = 65536;
    assert_eq!(get(&mut g, 1, top - 8), 0);
    assert_ne!(g.u64_at(top as u32 - 8), 0);
    for at in [top - 7, top, -1, -8] {
        assert_eq!(get(&mut g, 1, at), E(Errno::Fault), "result at {at}");
    }
    // An unknown clock is reported before a bad pointer.
    assert_eq!(get(&mut g, 9, -1), E(Errno::Inval));
}

#[test]
fn fd_write_results_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = OutputPipe::new();
    let mut g = Guest::new(
        "wrappers.wat",
        WasiCtx::builder()
            .stdout(OutputStream::Pipe(out.clone()))
            .preopened_dir(tmp.path(), "/")
            .unwrap(),
    );
    let write = |g: &mut Guest, fd: i32, iovs: i32, n: i32, nwritten: i32| {
        g.errno("fd_write", &[i(fd), i(iovs), i(n), i(nwritten)])
    };
    g.mem()[1000..1011].copy_from_slice(b"hello world");
    // One iovec, written from guest memory.
    let iovs = g.iovecs(16, &[(1000, 5)]);
    assert_eq!(write(&mut g, 1, iovs, 1, 8), 0);
    assert_eq!(g.u32_at(8), 5);
    // Several, gathered in order, empty ones included.
    let iovs = g.iovecs(16, &[(1005, 1), (0, 0), (1006, 5), (1000, 1)]);
    assert_eq!(write(&mut g, 1, iovs, 4, 8), 0);
    assert_eq!(g.u32_at(8), 7);
    // Nothing: zero iovecs, or one empty one (a pointer at the end is fine).
    g.mem()[8..12].fill(0xff);
    assert_eq!(write(&mut g, 1, 16, 0, 8), 0);
    assert_eq!(g.u32_at(8), 0);
    let iovs = g.iovecs(16, &[(65536, 0)]);
    g.mem()[8..12].fill(0xff);
    assert_eq!(write(&mut g, 1, iovs, 1, 8), 0);
    assert_eq!(g.u32_at(8), 0);
    // A larger write through the reused buffer, twice.
    let iovs = g.iovecs(16, &[(2000, 40000), (2000, 40000)]);
    g.mem()[2000..42000].fill(b'x');
    assert_eq!(write(&mut g, 1, iovs, 2, 8), 0);
    assert_eq!(g.u32_at(8), 80000);
    let iovs = g.iovecs(16, &[(1000, 2), (1000, 3)]);
    assert_eq!(write(&mut g, 1, iovs, 2, 8), 0);
    assert_eq!(g.u32_at(8), 5);
    let mut want = b"hello worldh".to_vec();
    want.extend_from_slice(&[b'x'; 80000]);
    want.extend_from_slice(b"hehel");
    assert!(out.contents() == want, "written bytes");

    // Errors, in order: a bad iovec table or buffer (EFAULT) before a bad
    // descriptor, which comes before a missing right.
    let fault = E(Errno::Fault);
    assert_eq!(write(&mut g, 77, 65536 - 4, 1, 8), fault);
    let bad = g.iovecs(16, &[(65530, 7)]);
    assert_eq!(write(&mut g, 77, bad, 1, 8), fault);
    let bad = g.iovecs(16, &[(1000, 1), (65530, 7)]);
    assert_eq!(write(&mut g, 1, bad, 2, 8), fault);
    assert_eq!(write(&mut g, 1, 16, -1, 8), fault);
    let iovs = g.iovecs(16, &[(1000, 5)]);
    assert_eq!(write(&mut g, 77, iovs, 1, 8), E(Errno::Badf));
    assert_eq!(write(&mut g, 0, iovs, 1, 8), E(Errno::Badf), "stdin");
    assert_eq!(
        write(&mut g, 3, iovs, 1, 8),
        E(Errno::Notcapable),
        "directory"
    );
    assert!(out.contents() == want, "nothing written by failed calls");
    // A bad result pointer is EFAULT, after the bytes are written.
    assert_eq!(write(&mut g, 1, iovs, 1, 65534), fault);
    want.extend_from_slice(b"hello");
    assert!(out.contents() == want, "written before the EFAULT");
}

#[test]
fn wasi_calls_without_an_exported_memory() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
          (import "wasi_snapshot_preview1" "clock_time_get"
            (func $clock (param i32 i64 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_close"
            (func $close (param i32) (result i32)))
          (memory 1)
          (func (export "clock") (result i32)
            i32.const 1 i64.const 1 i32.const 0 call $clock)
          (func (export "close") (result i32)
            i32.const 77 call $close))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, WasiCtx::builder().build());
    let mut linker = Linker::new(&engine);
    weft_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx| c).unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    // A call that needs the memory traps (the memory is not exported)...
    let clock = instance
        .get_typed_func::<(), i32>(&mut store, "clock")
        .unwrap();
    for _ in 0..2 {
        let err = clock.call(&mut store, ()).unwrap_err();
        assert!(format!("{err:?}").contains("exports no memory"), "{err:?}");
    }
    // ... one that does not works.
    let close = instance
        .get_typed_func::<(), i32>(&mut store, "close")
        .unwrap();
    assert_eq!(close.call(&mut store, ()).unwrap(), E(Errno::Badf) as i32);
}
