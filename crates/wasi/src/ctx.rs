//! The per-store WASI state: arguments, environment, and the table of open
//! file descriptors with their rights.
//!
//! ```text
//!   fd 0  stdin   (inherited, bytes, or empty)
//!   fd 1  stdout  (inherited, captured into an OutputPipe, or discarded)
//!   fd 2  stderr  (same choices)
//!   fd 3.. preopened directories, in the order they were added, then
//!          preopened sockets; later opens take the lowest free number
//! ```
//!
//! Every descriptor carries WASI rights (`base`: what may be done with it,
//! `inheriting`: what descriptors opened through it may get). Rights can
//! only shrink (`fd_fdstat_set_rights`); a call without the right it needs
//! fails with `ENOTCAPABLE`.

use crate::errno::Errno;
use crate::types::{filetype, rights};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where a guest's standard input comes from.
pub enum InputStream {
    /// The host process's stdin.
    Inherit,
    /// These bytes, then end of file.
    Bytes(io::Cursor<Vec<u8>>),
    /// Immediately at end of file.
    Null,
}

impl InputStream {
    /// A stream that yields `bytes`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> InputStream {
        InputStream::Bytes(io::Cursor::new(bytes.into()))
    }
}

/// Where a guest's standard output or error goes.
pub enum OutputStream {
    /// The host process's stdout (`1`) or stderr (`2`).
    Inherit(u8),
    /// Into a shared, inspectable buffer.
    Pipe(OutputPipe),
    /// Discarded.
    Null,
}

/// A buffer that captures guest output; clones share the buffer.
#[derive(Clone, Default, Debug)]
pub struct OutputPipe(Arc<Mutex<Vec<u8>>>);

impl OutputPipe {
    /// An empty pipe.
    pub fn new() -> OutputPipe {
        OutputPipe::default()
    }
    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What a descriptor refers to.
pub(crate) enum Kind {
    File(cap_std::fs::File),
    Dir(Dir),
    Stdin(InputStream),
    Stdout(OutputStream),
    Listener(std::net::TcpListener),
    Stream(std::net::TcpStream),
}

/// One open descriptor.
pub(crate) struct FdEntry {
    pub kind: Kind,
    pub base: u64,
    pub inheriting: u64,
    /// fdflags for descriptors whose flags are not kept by the host
    /// (stdio streams); files and sockets ask the host.
    pub flags: u16,
    /// The guest name of a preopened directory.
    pub preopen: Option<String>,
    /// Base rights removed with `fd_fdstat_set_rights` (as opposed to
    /// rights never requested at open time).
    pub dropped: u64,
}

impl FdEntry {
    pub(crate) fn new(kind: Kind, base: u64, inheriting: u64) -> FdEntry {
        FdEntry {
            kind,
            base,
            inheriting,
            flags: 0,
            preopen: None,
            dropped: 0,
        }
    }

    /// Fails with `ENOTCAPABLE` unless every right in `needed` is held.
    pub(crate) fn check(&self, needed: u64) -> Result<(), Errno> {
        if self.base & needed == needed {
            Ok(())
        } else {
            Err(Errno::Notcapable)
        }
    }

    pub(crate) fn dir(&self) -> Result<&Dir, Errno> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Errno::Notdir),
        }
    }

    pub(crate) fn filetype(&self) -> u8 {
        match &self.kind {
            Kind::File(f) => match rustix::fs::fstat(f) {
                Ok(st) => host_filetype(st.st_mode),
                Err(_) => filetype::UNKNOWN,
            },
            Kind::Dir(_) => filetype::DIRECTORY,
            Kind::Stdin(InputStream::Inherit) => stdio_filetype(0),
            Kind::Stdout(OutputStream::Inherit(fd)) => stdio_filetype(*fd as i32),
            Kind::Stdin(_) | Kind::Stdout(_) => filetype::CHARACTER_DEVICE,
            Kind::Listener(_) | Kind::Stream(_) => filetype::SOCKET_STREAM,
        }
    }
}

fn stdio_filetype(fd: i32) -> u8 {
    // SAFETY-free: fstat on a borrowed standard descriptor.
    let fd = match fd {
        0 => rustix::fs::fstat(rustix::stdio::stdin()),
        1 => rustix::fs::fstat(rustix::stdio::stdout()),
        _ => rustix::fs::fstat(rustix::stdio::stderr()),
    };
    match fd {
        Ok(st) => host_filetype(st.st_mode),
        Err(_) => filetype::CHARACTER_DEVICE,
    }
}

/// The WASI file type of a host `st_mode`.
pub(crate) fn host_filetype(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFREG => filetype::REGULAR_FILE,
        libc::S_IFDIR => filetype::DIRECTORY,
        libc::S_IFCHR => filetype::CHARACTER_DEVICE,
        libc::S_IFBLK => filetype::BLOCK_DEVICE,
        libc::S_IFLNK => filetype::SYMBOLIC_LINK,
        libc::S_IFSOCK => filetype::SOCKET_STREAM,
        _ => filetype::UNKNOWN,
    }
}

/// The WASI state of one store: build it with [`WasiCtxBuilder`].
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: BTreeMap<u32, FdEntry>,
    /// The exported `memory` of the instance that called last, so that
    /// each instance's memory is looked up by name once, not per call.
    pub(crate) memory_of: Option<(weft::Instance, Option<weft::Memory>)>,
    /// Where `fd_write` and `sock_send` gather the guest's buffers when a
    /// write has several iovecs (one is written from guest memory
    /// directly), kept between calls so that a write allocates nothing
    /// once it has grown; dropped after large writes.
    pub(crate) write_buf: Vec<u8>,
}

impl WasiCtx {
    /// A builder with no arguments, no environment, empty stdin, discarded
    /// output and no preopened directories.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::new()
    }

    pub(crate) fn get(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// The entry for `fd`, which must hold every right in `needed`.
    pub(crate) fn get_with(&mut self, fd: u32, needed: u64) -> Result<&mut FdEntry, Errno> {
        let e = self.get(fd)?;
        e.check(needed)?;
        Ok(e)
    }

    /// Inserts `entry` at the lowest free descriptor number.
    pub(crate) fn push(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        let mut fd = 0u32;
        for &used in self.fds.keys() {
            if used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::Mfile)?;
        }
        self.fds.insert(fd, entry);
        Ok(fd)
    }
}

/// Builds a [`WasiCtx`].
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: InputStream,
    stdout: OutputStream,
    stderr: OutputStream,
    preopens: Vec<(Dir, String)>,
    sockets: Vec<std::net::TcpListener>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

impl WasiCtxBuilder {
    /// See [`WasiCtx::builder`].
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: InputStream::Null,
            stdout: OutputStream::Null,
            stderr: OutputStream::Null,
            preopens: Vec::new(),
            sockets: Vec::new(),
        }
    }

    /// Appends one argument (the first is conventionally the program name).
    pub fn arg(&mut self, arg: impl Into<String>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args(&mut self, args: impl IntoIterator<Item = impl Into<String>>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds one environment variable.
    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds the host process's environment.
    pub fn inherit_env(&mut self) -> &mut Self {
        for (k, v) in std::env::vars() {
            self.env.push((k, v));
        }
        self
    }

    /// Sets stdin.
    pub fn stdin(&mut self, s: InputStream) -> &mut Self {
        self.stdin = s;
        self
    }

    /// Sets stdout.
    pub fn stdout(&mut self, s: OutputStream) -> &mut Self {
        self.stdout = s;
        self
    }

    /// Sets stderr.
    pub fn stderr(&mut self, s: OutputStream) -> &mut Self {
        self.stderr = s;
        self
    }

    /// Uses the host process's stdin, stdout and stderr.
    pub fn inherit_stdio(&mut self) -> &mut Self {
        self.stdin = InputStream::Inherit;
        self.stdout = OutputStream::Inherit(1);
        self.stderr = OutputStream::Inherit(2);
        self
    }

    /// Preopens the host directory `host` under the guest name `guest`
    /// (e.g. `"/"` or `"."`). The guest can reach nothing outside it.
    pub fn preopened_dir(
        &mut self,
        host: impl AsRef<Path>,
        guest: impl Into<String>,
    ) -> io::Result<&mut Self> {
        let host = host.as_ref();
        let dir = Dir::open_ambient_dir(host, ambient_authority()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot preopen directory {}: {e}", host.display()),
            )
        })?;
        self.preopens.push((dir, guest.into()));
        Ok(self)
    }

    /// Preopens a listening TCP socket (given to the guest after the
    /// preopened directories), for `sock_accept`.
    pub fn preopened_socket(&mut self, listener: std::net::TcpListener) -> &mut Self {
        self.sockets.push(listener);
        self
    }

    /// The context. The builder is left empty.
    pub fn build(&mut self) -> WasiCtx {
        let mut fds = BTreeMap::new();
        let stdin = std::mem::replace(&mut self.stdin, InputStream::Null);
        let stdout = std::mem::replace(&mut self.stdout, OutputStream::Null);
        let stderr = std::mem::replace(&mut self.stderr, OutputStream::Null);
        fds.insert(0, FdEntry::new(Kind::Stdin(stdin), rights::TTY, 0));
        fds.insert(1, FdEntry::new(Kind::Stdout(stdout), rights::TTY, 0));
        fds.insert(2, FdEntry::new(Kind::Stdout(stderr), rights::TTY, 0));
        let mut next = 3;
        for (dir, name) in self.preopens.drain(..) {
            let mut e = FdEntry::new(
                Kind::Dir(dir),
                rights::DIRECTORY,
                rights::DIRECTORY | rights::REGULAR_FILE,
            );
            e.preopen = Some(name);
            fds.insert(next, e);
            next += 1;
        }
        for l in self.sockets.drain(..) {
            fds.insert(
                next,
                FdEntry::new(Kind::Listener(l), rights::SOCKET, rights::SOCKET),
            );
            next += 1;
        }
        let nul = |s: String| {
            let mut v = s.into_bytes();
            v.push(0);
            v
        };
        WasiCtx {
            args: self.args.drain(..).map(nul).collect(),
            env: self
                .env
                .drain(..)
                .map(|(k, v)| nul(format!("{k}={v}")))
                .collect(),
            fds,
            memory_of: None,
            write_buf: Vec::new(),
        }
    }
}

impl InputStream {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            InputStream::Inherit => io::stdin().read(buf),
            InputStream::Bytes(c) => c.read(buf),
            InputStream::Null => Ok(0),
        }
    }
}

impl OutputStream {
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            // An empty `write_all` is a no-op; the flush still runs (it
            // writes out anything the host itself left buffered).
            OutputStream::Inherit(1) => {
                let mut out = io::stdout().lock();
                if !data.is_empty() {
                    out.write_all(data)?;
                }
                out.flush()?;
            }
            OutputStream::Inherit(_) => {
                let mut out = io::stderr().lock();
                if !data.is_empty() {
                    out.write_all(data)?;
                }
                out.flush()?;
            }
            OutputStream::Pipe(p) => {
                p.0.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(data)
            }
            OutputStream::Null => {}
        }
        Ok(data.len())
    }
}
