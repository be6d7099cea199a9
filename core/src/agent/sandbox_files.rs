//! Sandbox files for the agent's `/files/*` endpoints, opened so that
//! nothing a task does inside its sandbox makes the agent serve a file
//! outside it, or hang.
//!
//! A path is served only if it lies in an executor's sandbox
//! (`<work_dir>/slaves/<agent>/frameworks/<framework>/executors/<executor>/runs/<container>`,
//! given as the agent configured its work dir or in canonical form) and has
//! no `..`. It is opened once, beneath the sandbox directory and without
//! following any symbolic link (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`, or, where the kernel has no
//! `openat2`, one `openat(O_NOFOLLOW)` per component), with `O_NONBLOCK` so
//! that a FIFO cannot block the open; what is served is then decided on the
//! opened descriptor (`fstat`), never on the path again: a regular file to
//! read, a directory to list, anything else refused. A regular file with
//! more than one link is a hard link, possibly to a file outside the
//! sandbox; it is served only if the sandbox belongs to a user other than
//! root and the file to that same user (root, which every task runs as
//! today, can link any file on the filesystem).
//!
//! Every function here blocks on the filesystem: callers on the async
//! runtime go through [`off_runtime`].

use std::{
    ffi::{OsStr, OsString},
    fs::File,
    os::{
        fd::{AsFd, BorrowedFd, OwnedFd},
        unix::{ffi::OsStrExt, fs::FileExt},
    },
    path::{Component, Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use nix::{
    errno::Errno,
    fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag},
    sys::stat::{fstat, fstatat, FileStat, Mode, SFlag},
};

/// How long one blocking step (an open, a read, a listing) may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sandbox path is not served.
#[derive(Debug, thiserror::Error)]
pub enum SandboxFileError {
    #[error("path '{0}' must be absolute (as /state reports sandboxes)")]
    NotAbsolute(String),
    #[error("path '{0}' may not contain '..'")]
    ParentDir(String),
    #[error("path '{0}' is outside the agent's sandboxes")]
    Outside(String),
    #[error("path '{0}' goes through a symbolic link, which sandbox reads do not follow")]
    Symlink(String),
    #[error(
        "'{path}' has {links} links and does not belong to the sandbox's (non-root) user: \
         it may be a hard link to a file outside the sandbox"
    )]
    HardLink { path: String, links: u64 },
    #[error("no such file: '{0}'")]
    NotFound(String),
    #[error("'{path}' is not a regular file (it is {kind})")]
    NotAFile { path: String, kind: &'static str },
    #[error("'{path}' is not a directory (it is {kind})")]
    NotADirectory { path: String, kind: &'static str },
    #[error("permission denied: '{0}'")]
    Denied(String),
    #[error("'{path}': the filesystem did not answer within {timeout:?}")]
    TimedOut { path: String, timeout: Duration },
    #[error("work directory '{}' unavailable: {source}", path.display())]
    WorkDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read '{path}': {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A regular file of a sandbox, open for reading.
#[derive(Debug)]
pub struct SandboxFile {
    file: File,
    /// Its size when it was opened.
    pub size: u64,
    /// The path it was asked for by.
    pub path: String,
}

impl SandboxFile {
    /// Up to `length` bytes from `offset`, and no further than the size
    /// the file had when it was opened.
    pub fn read_at(&self, offset: u64, length: u64) -> Result<Vec<u8>, SandboxFileError> {
        let length = length.min(self.size.saturating_sub(offset));
        let mut data = vec![0; usize::try_from(length).unwrap_or(usize::MAX)];
        let mut filled = 0;
        while filled < data.len() {
            match self
                .file
                .read_at(&mut data[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(SandboxFileError::Io {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
        }
        data.truncate(filled);
        Ok(data)
    }
}

/// One entry of a sandbox directory, as `lstat` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: OsString,
    pub nlink: u64,
    pub size: u64,
    pub mtime: i64,
    /// `st_mode`: the file type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Opens the regular file `path` of a sandbox under `work_dir`.
pub fn open_file(work_dir: &Path, path: &str) -> Result<SandboxFile, SandboxFileError> {
    open_file_with(work_dir, path, Resolver::Best)
}

/// [`open_file`] and [`list_dir`] through the component-by-component walk
/// that kernels without `openat2` get, whatever this kernel has: for the
/// fuzz targets of `corral-fuzz` (`fuzz/`); not an API.
#[doc(hidden)]
pub mod walking {
    use super::*;

    pub fn open_file(work_dir: &Path, path: &str) -> Result<SandboxFile, SandboxFileError> {
        open_file_with(work_dir, path, Resolver::Walk)
    }

    pub fn list_dir(work_dir: &Path, path: &str) -> Result<Vec<DirEntry>, SandboxFileError> {
        list_dir_with(work_dir, path, Resolver::Walk)
    }
}

fn open_file_with(
    work_dir: &Path,
    path: &str,
    resolver: Resolver,
) -> Result<SandboxFile, SandboxFileError> {
    let (fd, stat, sandbox_owner) = open(work_dir, path, resolver)?;
    let kind = kind_of(&stat);
    if kind != REGULAR {
        return Err(SandboxFileError::NotAFile {
            path: path.to_owned(),
            kind,
        });
    }
    if is_foreign_link(&stat, sandbox_owner) {
        return Err(SandboxFileError::HardLink {
            path: path.to_owned(),
            links: stat.st_nlink,
        });
    }
    Ok(SandboxFile {
        file: File::from(fd),
        size: u64::try_from(stat.st_size).unwrap_or(0),
        path: path.to_owned(),
    })
}

/// The entries of the directory `path` of a sandbox under `work_dir`,
/// sorted by name, without `.` and `..`.
pub fn list_dir(work_dir: &Path, path: &str) -> Result<Vec<DirEntry>, SandboxFileError> {
    list_dir_with(work_dir, path, Resolver::Best)
}

fn list_dir_with(
    work_dir: &Path,
    path: &str,
    resolver: Resolver,
) -> Result<Vec<DirEntry>, SandboxFileError> {
    let (fd, stat, _) = open(work_dir, path, resolver)?;
    let kind = kind_of(&stat);
    if kind != DIRECTORY {
        return Err(SandboxFileError::NotADirectory {
            path: path.to_owned(),
            kind,
        });
    }
    let io = |e: Errno| SandboxFileError::Io {
        path: path.to_owned(),
        source: e.into(),
    };
    // `Dir` takes its descriptor; a duplicate stays for `fstatat`.
    let mut dir =
        nix::dir::Dir::from_fd(fd.try_clone().map_err(|source| SandboxFileError::Io {
            path: path.to_owned(),
            source,
        })?)
        .map_err(io)?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let name = entry.map_err(io)?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(&name).to_owned());
        }
    }
    names.sort();
    let mut entries = Vec::with_capacity(names.len());
    for name in names {
        // Entries may go away while they are listed.
        let Ok(stat) = fstatat(&fd, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        entries.push(DirEntry {
            name,
            nlink: stat.st_nlink,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: stat.st_mtime,
            mode: stat.st_mode,
            uid: stat.st_uid,
            gid: stat.st_gid,
        });
    }
    Ok(entries)
}

/// Runs `f` (which blocks on the filesystem) on a blocking thread, giving
/// up after `timeout`. A step that never returns keeps its blocking thread,
/// but not the runtime.
pub async fn off_runtime<T: Send + 'static>(
    path: &str,
    timeout: Duration,
    f: impl FnOnce() -> Result<T, SandboxFileError> + Send + 'static,
) -> Result<T, SandboxFileError> {
    match tokio::time::timeout(timeout, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(SandboxFileError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(join.to_string()),
        }),
        Err(_) => Err(SandboxFileError::TimedOut {
            path: path.to_owned(),
            timeout,
        }),
    }
}

/// Whether a file with `stat` may be a hard link the sandbox's user had no
/// business serving: more than one link, and not the file of a non-root
/// sandbox owner.
fn is_foreign_link(stat: &FileStat, sandbox_owner: u32) -> bool {
    stat.st_nlink > 1 && (sandbox_owner == 0 || stat.st_uid != sandbox_owner)
}

const REGULAR: &str = "a regular file";
const DIRECTORY: &str = "a directory";

fn kind_of(stat: &FileStat) -> &'static str {
    match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => REGULAR,
        SFlag::S_IFDIR => DIRECTORY,
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFLNK => "a symbolic link",
        _ => "of an unknown kind",
    }
}

/// The sandbox `path` names, relative to the work dir, and the rest of the
/// path inside it.
fn locate(work_dir: &Path, path: &str) -> Result<(PathBuf, PathBuf), SandboxFileError> {
    let requested = Path::new(path);
    if !requested.is_absolute() {
        return Err(SandboxFileError::NotAbsolute(path.to_owned()));
    }
    // Refused before touching the filesystem, so nothing outside the
    // sandboxes can even be probed for existence.
    if requested.components().any(|c| c == Component::ParentDir) {
        return Err(SandboxFileError::ParentDir(path.to_owned()));
    }
    let outside = || SandboxFileError::Outside(path.to_owned());
    let relative = match requested.strip_prefix(work_dir) {
        Ok(r) => r,
        Err(_) => {
            let canonical =
                work_dir
                    .canonicalize()
                    .map_err(|source| SandboxFileError::WorkDir {
                        path: work_dir.to_owned(),
                        source,
                    })?;
            requested.strip_prefix(canonical).map_err(|_| outside())?
        }
    };
    let parts: Vec<&OsStr> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    let layout = ["slaves", "", "frameworks", "", "executors", "", "runs", ""];
    if parts.len() < layout.len()
        || layout
            .iter()
            .zip(&parts)
            .any(|(want, got)| !want.is_empty() && OsStr::new(want) != *got)
    {
        return Err(outside());
    }
    let sandbox = parts[..layout.len()].iter().collect();
    let inside = parts[layout.len()..].iter().collect();
    Ok((sandbox, inside))
}

/// Opens `path` and `fstat`s it: the descriptor, its status and the uid
/// of the sandbox it lies in.
fn open(
    work_dir: &Path,
    path: &str,
    resolver: Resolver,
) -> Result<(OwnedFd, FileStat, u32), SandboxFileError> {
    let (sandbox, inside) = locate(work_dir, path)?;
    let work = nix::fcntl::open(
        work_dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SandboxFileError::WorkDir {
        path: work_dir.to_owned(),
        source: e.into(),
    })?;
    let refused = |e: Errno| match e {
        Errno::ELOOP => SandboxFileError::Symlink(path.to_owned()),
        Errno::EXDEV => SandboxFileError::Outside(path.to_owned()),
        Errno::ENOENT | Errno::ENOTDIR => SandboxFileError::NotFound(path.to_owned()),
        Errno::EACCES | Errno::EPERM => SandboxFileError::Denied(path.to_owned()),
        e => SandboxFileError::Io {
            path: path.to_owned(),
            source: e.into(),
        },
    };
    let sandbox = resolver
        .open_beneath(work.as_fd(), &sandbox, OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(refused)?;
    let owner = fstat(&sandbox).map_err(refused)?.st_uid;
    let fd = resolver
        .open_beneath(
            sandbox.as_fd(),
            &inside,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        )
        .map_err(refused)?;
    let stat = fstat(&fd).map_err(refused)?;
    Ok((fd, stat, owner))
}

/// Set once `openat2` answered ENOSYS: the kernel predates it (5.6).
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// How a path is opened beneath a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolver {
    /// `openat2`, or the walk where the kernel has none.
    Best,
    /// Always the component-by-component walk.
    Walk,
}

impl Resolver {
    /// Opens `relative` (normal components only; empty for `dir` itself)
    /// beneath `dir` with `flags`, following no symbolic link. ELOOP means
    /// a symbolic link was met, EXDEV that the path left `dir`.
    fn open_beneath(
        self,
        dir: BorrowedFd,
        relative: &Path,
        flags: OFlag,
    ) -> Result<OwnedFd, Errno> {
        let flags = flags | OFlag::O_CLOEXEC;
        if self == Resolver::Best && !NO_OPENAT2.load(Ordering::Relaxed) {
            // No O_NOFOLLOW here: with O_PATH it would open a trailing
            // symlink itself, where RESOLVE_NO_SYMLINKS refuses it.
            let how = OpenHow::new().flags(flags).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
            let target = if relative.as_os_str().is_empty() {
                Path::new(".")
            } else {
                relative
            };
            loop {
                match openat2(dir, target, how) {
                    // A concurrent rename elsewhere on the filesystem
                    // (RESOLVE_BENEATH's guard against `..` races): retry.
                    Err(Errno::EAGAIN) => continue,
                    Err(Errno::ENOSYS) => {
                        NO_OPENAT2.store(true, Ordering::Relaxed);
                        break;
                    }
                    other => return other,
                }
            }
        }
        walk_beneath(dir, relative, flags | OFlag::O_NOFOLLOW)
    }
}

/// One `openat(O_NOFOLLOW)` per component, each beneath the previous one.
fn walk_beneath(dir: BorrowedFd, relative: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let mut parts = Vec::new();
    for c in relative.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            Component::CurDir => {}
            _ => return Err(Errno::EXDEV),
        }
    }
    let Some((last, middle)) = parts.split_last() else {
        return openat(dir, ".", flags, Mode::empty());
    };
    let mut current: Option<OwnedFd> = None;
    let step = |at: BorrowedFd, name: &OsStr, flags: OFlag| {
        openat(at, name, flags, Mode::empty()).map_err(|e| match e {
            // O_NOFOLLOW with O_DIRECTORY answers ENOTDIR for a symlink.
            Errno::ENOTDIR | Errno::ELOOP
                if fstatat(at, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|s| {
                    SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
                }) =>
            {
                Errno::ELOOP
            }
            e => e,
        })
    };
    for name in middle {
        let at = current.as_ref().map_or(dir, |fd| fd.as_fd());
        let next = step(
            at,
            name,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        )?;
        current = Some(next);
    }
    let at = current.as_ref().map_or(dir, |fd| fd.as_fd());
    step(at, last, flags)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, MetadataExt};

    use super::*;

    const RUN: &str = "slaves/a/frameworks/f/executors/e/runs/c";

    /// A work dir with one sandbox holding `stdout`, `sub/dir/file`, a
    /// symlink `link` to `sub`, a FIFO and a secret beside the sandbox.
    fn work_dir() -> (tempfile::TempDir, String) {
        let work = tempfile::tempdir().unwrap();
        let sandbox = work.path().join(RUN);
        std::fs::create_dir_all(sandbox.join("sub/dir")).unwrap();
        std::fs::write(sandbox.join("stdout"), b"out\xff\n").unwrap();
        std::fs::write(sandbox.join("sub/dir/file"), b"deep").unwrap();
        symlink("sub", sandbox.join("link")).unwrap();
        symlink("/etc/passwd", sandbox.join("passwd")).unwrap();
        nix::unistd::mkfifo(&sandbox.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        std::fs::write(work.path().join("secret"), b"secret").unwrap();
        std::fs::write(work.path().join("slaves/a/secret"), b"secret").unwrap();
        let dir = sandbox.display().to_string();
        (work, dir)
    }

    /// Whether an error is the one expected.
    type Check = fn(&SandboxFileError) -> bool;

    #[test]
    fn files_and_directories_inside_a_sandbox_open() {
        let (work, dir) = work_dir();
        let file = open_file(work.path(), &format!("{dir}/stdout")).unwrap();
        assert_eq!(file.size, 5);
        assert_eq!(file.read_at(0, 100).unwrap(), b"out\xff\n");
        assert_eq!(file.read_at(3, 1).unwrap(), b"\xff");
        assert_eq!(file.read_at(9, 10).unwrap(), b"");
        let deep = open_file(work.path(), &format!("{dir}/./sub//dir/file")).unwrap();
        assert_eq!(deep.read_at(0, 10).unwrap(), b"deep");
        let names: Vec<_> = list_dir(work.path(), &dir)
            .unwrap()
            .into_iter()
            .map(|e| e.name.into_string().unwrap())
            .collect();
        assert_eq!(names, ["fifo", "link", "passwd", "stdout", "sub"]);
        let sub = list_dir(work.path(), &format!("{dir}/sub")).unwrap();
        assert_eq!(sub[0].name, "dir");
        assert_eq!(sub[0].mode & nix::libc::S_IFMT, nix::libc::S_IFDIR);
        // The canonical form of the work dir is as good as the configured one.
        let canonical = work.path().canonicalize().unwrap().join(RUN).join("stdout");
        open_file(work.path(), canonical.to_str().unwrap()).unwrap();
    }

    #[test]
    fn escapes_are_refused_by_both_resolvers() {
        let (work, dir) = work_dir();
        let w = work.path().display();
        for resolver in [Resolver::Best, Resolver::Walk] {
            let cases: Vec<(String, Check)> = vec![
                (format!("{dir}/link/dir/file"), |e| {
                    matches!(e, SandboxFileError::Symlink(_))
                }),
                (format!("{dir}/passwd"), |e| {
                    matches!(e, SandboxFileError::Symlink(_))
                }),
                (format!("{dir}/../../secret"), |e| {
                    matches!(e, SandboxFileError::ParentDir(_))
                }),
                ("/etc/passwd".into(), |e| {
                    matches!(e, SandboxFileError::Outside(_))
                }),
                ("etc/passwd".into(), |e| {
                    matches!(e, SandboxFileError::NotAbsolute(_))
                }),
                (format!("{w}/secret"), |e| {
                    matches!(e, SandboxFileError::Outside(_))
                }),
                (format!("{w}/slaves/a/secret"), |e| {
                    matches!(e, SandboxFileError::Outside(_))
                }),
                (format!("{w}/slaves/a/frameworks/f/executors/e/runs"), |e| {
                    matches!(e, SandboxFileError::Outside(_))
                }),
                (format!("{dir}/no-such-file"), |e| {
                    matches!(e, SandboxFileError::NotFound(_))
                }),
                (format!("{dir}/stdout/below-a-file"), |e| {
                    matches!(e, SandboxFileError::NotFound(_))
                }),
            ];
            for (path, expected) in cases {
                match open(work.path(), &path, resolver) {
                    Err(e) => assert!(expected(&e), "{resolver:?} {path}: {e}"),
                    Ok(_) => panic!("{resolver:?} {path}: opened"),
                }
            }
        }
    }

    #[test]
    fn a_symlinked_sandbox_or_run_directory_is_refused() {
        let (work, _) = work_dir();
        let runs = work.path().join("slaves/a/frameworks/f/executors/e/runs");
        symlink("c", runs.join("latest")).unwrap();
        symlink("/etc", runs.join("etc")).unwrap();
        for resolver in [Resolver::Best, Resolver::Walk] {
            for name in ["latest/stdout", "etc/passwd"] {
                let path = runs.join(name).display().to_string();
                let e = open(work.path(), &path, resolver).unwrap_err();
                assert!(matches!(e, SandboxFileError::Symlink(_)), "{path}: {e}");
            }
        }
    }

    #[test]
    fn a_fifo_opens_at_once_and_is_refused() {
        let (work, dir) = work_dir();
        for resolver in [Resolver::Best, Resolver::Walk] {
            // O_NONBLOCK: the open of a FIFO without a writer returns at once.
            let (_, stat, _) = open(work.path(), &format!("{dir}/fifo"), resolver).unwrap();
            assert_eq!(kind_of(&stat), "a FIFO");
        }
        let e = open_file(work.path(), &format!("{dir}/fifo")).unwrap_err();
        assert!(
            matches!(e, SandboxFileError::NotAFile { kind: "a FIFO", .. }),
            "{e}"
        );
        let e = list_dir(work.path(), &format!("{dir}/stdout")).unwrap_err();
        assert!(matches!(e, SandboxFileError::NotADirectory { .. }), "{e}");
        let e = open_file(work.path(), &format!("{dir}/sub")).unwrap_err();
        assert!(
            matches!(
                e,
                SandboxFileError::NotAFile {
                    kind: "a directory",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn hard_links_are_served_only_to_a_non_root_owner_of_both() {
        let (work, dir) = work_dir();
        std::fs::hard_link(work.path().join("secret"), format!("{dir}/linked")).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        let result = open_file(work.path(), &format!("{dir}/linked"));
        if me == 0 {
            let e = result.unwrap_err();
            assert!(
                matches!(e, SandboxFileError::HardLink { links: 2, .. }),
                "{e}"
            );
        } else {
            result.unwrap();
        }
        let stat = fstat(File::open(work.path().join("secret")).unwrap()).unwrap();
        let uid = std::fs::metadata(work.path().join("secret")).unwrap().uid();
        assert!(is_foreign_link(&stat, 0), "root's sandbox");
        assert!(is_foreign_link(&stat, uid + 1), "another user's file");
        assert!(
            uid == 0 || !is_foreign_link(&stat, uid),
            "the owner's own file"
        );
        let mut single = stat;
        single.st_nlink = 1;
        assert!(!is_foreign_link(&single, 0), "one link");
    }

    #[tokio::test]
    async fn a_step_that_hangs_times_out_without_blocking_the_runtime() {
        let e = off_runtime("/slow", Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_millis(500));
            Ok(())
        })
        .await
        .unwrap_err();
        assert!(matches!(e, SandboxFileError::TimedOut { .. }), "{e}");
    }
}
