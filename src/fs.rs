//! `goroutines::fs`: std::fs through [`syscall`], so that file I/O waits
//! without blocking an M.
//!
//! The kernel has no readiness notification for regular files (epoll says
//! "ready" at once), so file I/O cannot go through the network poller; like
//! Go's `os` package, every call here is a blocking call run by
//! [`syscall`]: in pinned mode on the blocking pool while the goroutine
//! parks, in Go mode inline with the P handed to another M if the call
//! lasts. From a plain thread each call simply runs.
//!
//! The functions mirror their std::fs namesakes and return std's types
//! (`Metadata`, `std::io::Error`). [`File`] wraps `std::fs::File`; each
//! `read`, `write`, `seek` or `sync_all` is one call through `syscall`, so
//! wrap a `File` in a `BufReader`/`BufWriter` for many small operations, as
//! you would in Go.
//!
//! ```
//! goroutines::run(|| -> std::io::Result<()> {
//!     let dir = std::env::temp_dir().join(format!("goroutines-fs-doc-{}", std::process::id()));
//!     goroutines::fs::create_dir_all(&dir)?;
//!     let path = dir.join("hello.txt");
//!     goroutines::fs::write(&path, "hello from a goroutine")?;
//!     assert_eq!(goroutines::fs::read_to_string(&path)?, "hello from a goroutine");
//!     goroutines::fs::remove_dir_all(&dir)
//! })
//! .unwrap();
//! ```

use crate::syscall;
use std::fs::{Metadata, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Runs `f` on an owned copy of `path` through `syscall`.
fn on_path<T: Send>(path: &Path, f: impl FnOnce(PathBuf) -> T + Send) -> T {
    let path = path.to_path_buf();
    syscall(move || f(path))
}

/// Reads a whole file (`std::fs::read`).
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    on_path(path.as_ref(), std::fs::read)
}

/// Reads a whole file as UTF-8 (`std::fs::read_to_string`).
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    on_path(path.as_ref(), std::fs::read_to_string)
}

/// Writes a whole file, creating or truncating it (`std::fs::write`).
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let contents = contents.as_ref();
    on_path(path.as_ref(), |p| std::fs::write(p, contents))
}

/// `std::fs::metadata` (follows symlinks).
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    on_path(path.as_ref(), std::fs::metadata)
}

/// `std::fs::symlink_metadata` (does not follow symlinks).
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    on_path(path.as_ref(), std::fs::symlink_metadata)
}

/// `std::fs::create_dir`.
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(path.as_ref(), std::fs::create_dir)
}

/// `std::fs::create_dir_all`.
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(path.as_ref(), std::fs::create_dir_all)
}

/// `std::fs::remove_file`.
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(path.as_ref(), std::fs::remove_file)
}

/// `std::fs::remove_dir`.
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(path.as_ref(), std::fs::remove_dir)
}

/// `std::fs::remove_dir_all`.
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(path.as_ref(), std::fs::remove_dir_all)
}

/// `std::fs::rename`.
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    let to = to.as_ref().to_path_buf();
    on_path(from.as_ref(), move |from| std::fs::rename(from, to))
}

/// `std::fs::copy`: bytes copied.
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    let to = to.as_ref().to_path_buf();
    on_path(from.as_ref(), move |from| std::fs::copy(from, to))
}

/// `std::fs::canonicalize`.
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    on_path(path.as_ref(), std::fs::canonicalize)
}

/// `std::fs::set_permissions`.
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    on_path(path.as_ref(), move |p| std::fs::set_permissions(p, perm))
}

/// The entries of a directory, read in one call (`std::fs::read_dir`,
/// collected): paths in the order the OS returns them, `.` and `..`
/// excluded.
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<Vec<PathBuf>> {
    on_path(path.as_ref(), |p| {
        std::fs::read_dir(p)?
            .map(|entry| entry.map(|e| e.path()))
            .collect()
    })
}

/// An open file whose operations go through [`syscall`]. `Read`, `Write`
/// and `Seek` are implemented for `File` and `&File`, as std does.
#[derive(Debug)]
pub struct File {
    inner: std::fs::File,
}

impl File {
    /// Opens a file for reading (`std::fs::File::open`).
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        on_path(path.as_ref(), std::fs::File::open).map(File::from_std)
    }

    /// Creates or truncates a file for writing (`std::fs::File::create`).
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        on_path(path.as_ref(), std::fs::File::create).map(File::from_std)
    }

    /// Opens with `options` (`std::fs::OpenOptions::open`).
    pub fn open_with<P: AsRef<Path>>(path: P, options: &std::fs::OpenOptions) -> io::Result<File> {
        on_path(path.as_ref(), |p| options.open(p)).map(File::from_std)
    }

    /// Wraps an open std file.
    pub fn from_std(inner: std::fs::File) -> File {
        File { inner }
    }

    /// The std file inside.
    pub fn into_std(self) -> std::fs::File {
        self.inner
    }

    /// `std::fs::File::metadata`.
    pub fn metadata(&self) -> io::Result<Metadata> {
        syscall(|| self.inner.metadata())
    }

    /// Flushes data and metadata to the device (`fsync`).
    pub fn sync_all(&self) -> io::Result<()> {
        syscall(|| self.inner.sync_all())
    }

    /// Flushes data to the device (`fdatasync`).
    pub fn sync_data(&self) -> io::Result<()> {
        syscall(|| self.inner.sync_data())
    }

    /// Truncates or extends the file (`std::fs::File::set_len`).
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        syscall(|| self.inner.set_len(size))
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let file = &self.inner;
        syscall(|| (&*file).read(buf))
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let file = &self.inner;
        syscall(|| (&*file).read_to_end(buf))
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = &self.inner;
        syscall(|| (&*file).write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let file = &self.inner;
        syscall(|| (&*file).write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let file = &self.inner;
        syscall(|| (&*file).seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        (&*self).read_to_end(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        (&*self).seek(pos)
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl From<std::fs::File> for File {
    fn from(inner: std::fs::File) -> File {
        File::from_std(inner)
    }
}
