//! WASI errno values and the mapping from host I/O errors to them.

use std::io;

macro_rules! errnos {
    ($($name:ident = $value:literal, $doc:literal;)*) => {
        /// A WASI preview1 `errno` value.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum Errno {
            $(#[doc = $doc] $name = $value,)*
        }

        impl Errno {
            /// The errno's name as the WASI spec spells it (`"badf"`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Errno::$name => stringify!($name),)*
                }
            }
        }
    };
}

errnos! {
    Success = 0, "No error.";
    TooBig = 1, "Argument list too long.";
    Acces = 2, "Permission denied.";
    Addrinuse = 3, "Address in use.";
    Addrnotavail = 4, "Address not available.";
    Afnosupport = 5, "Address family not supported.";
    Again = 6, "Resource unavailable, or operation would block.";
    Already = 7, "Connection already in progress.";
    Badf = 8, "Bad file descriptor.";
    Badmsg = 9, "Bad message.";
    Busy = 10, "Device or resource busy.";
    Canceled = 11, "Operation canceled.";
    Child = 12, "No child processes.";
    Connaborted = 13, "Connection aborted.";
    Connrefused = 14, "Connection refused.";
    Connreset = 15, "Connection reset.";
    Deadlk = 16, "Resource deadlock would occur.";
    Destaddrreq = 17, "Destination address required.";
    Dom = 18, "Mathematics argument out of domain of function.";
    Dquot = 19, "Reserved.";
    Exist = 20, "File exists.";
    Fault = 21, "Bad address.";
    Fbig = 22, "File too large.";
    Hostunreach = 23, "Host is unreachable.";
    Idrm = 24, "Identifier removed.";
    Ilseq = 25, "Illegal byte sequence.";
    Inprogress = 26, "Operation in progress.";
    Intr = 27, "Interrupted function.";
    Inval = 28, "Invalid argument.";
    Io = 29, "I/O error.";
    Isconn = 30, "Socket is connected.";
    Isdir = 31, "Is a directory.";
    Loop = 32, "Too many levels of symbolic links.";
    Mfile = 33, "File descriptor value too large.";
    Mlink = 34, "Too many links.";
    Msgsize = 35, "Message too large.";
    Multihop = 36, "Reserved.";
    Nametoolong = 37, "Filename too long.";
    Netdown = 38, "Network is down.";
    Netreset = 39, "Connection aborted by network.";
    Netunreach = 40, "Network unreachable.";
    Nfile = 41, "Too many files open in system.";
    Nobufs = 42, "No buffer space available.";
    Nodev = 43, "No such device.";
    Noent = 44, "No such file or directory.";
    Noexec = 45, "Executable file format error.";
    Nolck = 46, "No locks available.";
    Nolink = 47, "Reserved.";
    Nomem = 48, "Not enough space.";
    Nomsg = 49, "No message of the desired type.";
    Noprotoopt = 50, "Protocol not available.";
    Nospc = 51, "No space left on device.";
    Nosys = 52, "Function not supported.";
    Notconn = 53, "The socket is not connected.";
    Notdir = 54, "Not a directory or a symbolic link to a directory.";
    Notempty = 55, "Directory not empty.";
    Notrecoverable = 56, "State not recoverable.";
    Notsock = 57, "Not a socket.";
    Notsup = 58, "Not supported, or operation not supported on socket.";
    Notty = 59, "Inappropriate I/O control operation.";
    Nxio = 60, "No such device or address.";
    Overflow = 61, "Value too large to be stored in data type.";
    Ownerdead = 62, "Previous owner died.";
    Perm = 63, "Operation not permitted.";
    Pipe = 64, "Broken pipe.";
    Proto = 65, "Protocol error.";
    Protonosupport = 66, "Protocol not supported.";
    Prototype = 67, "Protocol wrong type for socket.";
    Range = 68, "Result too large.";
    Rofs = 69, "Read-only file system.";
    Spipe = 70, "Invalid seek.";
    Srch = 71, "No such process.";
    Stale = 72, "Reserved.";
    Timedout = 73, "Connection timed out.";
    Txtbsy = 74, "Text file busy.";
    Xdev = 75, "Cross-device link.";
    Notcapable = 76, "Extension: Capabilities insufficient.";
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "errno {} ({})", *self as u16, self.name())
    }
}

impl std::error::Error for Errno {}

impl Errno {
    /// Maps a host `errno` value (Linux numbering) to WASI.
    pub fn from_raw_os_error(code: i32) -> Errno {
        use libc::*;
        match code {
            E2BIG => Errno::TooBig,
            EACCES => Errno::Acces,
            EADDRINUSE => Errno::Addrinuse,
            EADDRNOTAVAIL => Errno::Addrnotavail,
            EAFNOSUPPORT => Errno::Afnosupport,
            EAGAIN => Errno::Again,
            EALREADY => Errno::Already,
            EBADF => Errno::Badf,
            EBADMSG => Errno::Badmsg,
            EBUSY => Errno::Busy,
            ECANCELED => Errno::Canceled,
            ECHILD => Errno::Child,
            ECONNABORTED => Errno::Connaborted,
            ECONNREFUSED => Errno::Connrefused,
            ECONNRESET => Errno::Connreset,
            EDEADLK => Errno::Deadlk,
            EDESTADDRREQ => Errno::Destaddrreq,
            EDOM => Errno::Dom,
            EDQUOT => Errno::Dquot,
            EEXIST => Errno::Exist,
            EFAULT => Errno::Fault,
            EFBIG => Errno::Fbig,
            EHOSTUNREACH => Errno::Hostunreach,
            EIDRM => Errno::Idrm,
            EILSEQ => Errno::Ilseq,
            EINPROGRESS => Errno::Inprogress,
            EINTR => Errno::Intr,
            EINVAL => Errno::Inval,
            EIO => Errno::Io,
            EISCONN => Errno::Isconn,
            EISDIR => Errno::Isdir,
            ELOOP => Errno::Loop,
            EMFILE => Errno::Mfile,
            EMLINK => Errno::Mlink,
            EMSGSIZE => Errno::Msgsize,
            EMULTIHOP => Errno::Multihop,
            ENAMETOOLONG => Errno::Nametoolong,
            ENETDOWN => Errno::Netdown,
            ENETRESET => Errno::Netreset,
            ENETUNREACH => Errno::Netunreach,
            ENFILE => Errno::Nfile,
            ENOBUFS => Errno::Nobufs,
            ENODEV => Errno::Nodev,
            ENOENT => Errno::Noent,
            ENOEXEC => Errno::Noexec,
            ENOLCK => Errno::Nolck,
            ENOLINK => Errno::Nolink,
            ENOMEM => Errno::Nomem,
            ENOMSG => Errno::Nomsg,
            ENOPROTOOPT => Errno::Noprotoopt,
            ENOSPC => Errno::Nospc,
            ENOSYS => Errno::Nosys,
            ENOTCONN => Errno::Notconn,
            ENOTDIR => Errno::Notdir,
            ENOTEMPTY => Errno::Notempty,
            ENOTRECOVERABLE => Errno::Notrecoverable,
            ENOTSOCK => Errno::Notsock,
            ENOTSUP => Errno::Notsup,
            ENOTTY => Errno::Notty,
            ENXIO => Errno::Nxio,
            EOVERFLOW => Errno::Overflow,
            EOWNERDEAD => Errno::Ownerdead,
            EPERM => Errno::Perm,
            EPIPE => Errno::Pipe,
            EPROTO => Errno::Proto,
            EPROTONOSUPPORT => Errno::Protonosupport,
            EPROTOTYPE => Errno::Prototype,
            ERANGE => Errno::Range,
            EROFS => Errno::Rofs,
            ESPIPE => Errno::Spipe,
            ESRCH => Errno::Srch,
            ESTALE => Errno::Stale,
            ETIMEDOUT => Errno::Timedout,
            ETXTBSY => Errno::Txtbsy,
            EXDEV => Errno::Xdev,
            _ => Errno::Io,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        if let Some(code) = e.raw_os_error() {
            return Errno::from_raw_os_error(code);
        }
        // Errors made up by cap-std (sandbox escapes are `PermissionDenied`
        // "a path led outside of the filesystem") and by std.
        match e.kind() {
            io::ErrorKind::PermissionDenied => Errno::Perm,
            io::ErrorKind::NotFound => Errno::Noent,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::InvalidInput => Errno::Inval,
            io::ErrorKind::WouldBlock => Errno::Again,
            io::ErrorKind::Interrupted => Errno::Intr,
            io::ErrorKind::BrokenPipe => Errno::Pipe,
            io::ErrorKind::Unsupported => Errno::Notsup,
            io::ErrorKind::OutOfMemory => Errno::Nomem,
            io::ErrorKind::NotADirectory => Errno::Notdir,
            io::ErrorKind::IsADirectory => Errno::Isdir,
            io::ErrorKind::DirectoryNotEmpty => Errno::Notempty,
            io::ErrorKind::InvalidFilename => Errno::Nametoolong,
            io::ErrorKind::CrossesDevices => Errno::Xdev,
            _ => Errno::Io,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_raw_os_error(e.raw_os_error())
    }
}

/// What a syscall implementation returns on failure: an errno for the
/// guest, or an error that traps it (`proc_exit`, missing memory, ...).
#[derive(Debug)]
pub(crate) enum SysError {
    /// Returned to the guest as the function's result.
    Errno(Errno),
    /// Traps the guest; the error reaches the embedder unchanged.
    Trap(anyhow::Error),
}

impl From<Errno> for SysError {
    fn from(e: Errno) -> SysError {
        SysError::Errno(e)
    }
}

impl From<io::Error> for SysError {
    fn from(e: io::Error) -> SysError {
        SysError::Errno(e.into())
    }
}

impl From<rustix::io::Errno> for SysError {
    fn from(e: rustix::io::Errno) -> SysError {
        SysError::Errno(e.into())
    }
}

/// The result type of every syscall implementation.
pub(crate) type SysResult<T = ()> = Result<T, SysError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(Errno::from_raw_os_error(libc::ENOENT), Errno::Noent);
        assert_eq!(Errno::Notcapable as u16, 76);
        assert_eq!(
            Errno::from(io::Error::from_raw_os_error(libc::ELOOP)),
            Errno::Loop
        );
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "escape");
        assert_eq!(Errno::from(escape), Errno::Perm);
        assert_eq!(Errno::Badf.name(), "Badf");
    }
}
