//! `goroutines::fs`: std::fs through `syscall`, in both modes and from a
//! plain thread.

use goroutines::{fs, Runtime};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("goroutines-fs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn round_trip_files(rt: &Runtime, name: &str) {
    let dir = scratch(name);
    let d = dir.clone();
    let listed = rt.run(move || {
        fs::create_dir_all(d.join("sub")).unwrap();
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let d = d.clone();
                goroutines::go(move || {
                    let path = d.join(format!("f{i}.txt"));
                    fs::write(&path, format!("line {i}\n").repeat(100)).unwrap();
                    let text = fs::read_to_string(&path).unwrap();
                    assert_eq!(text.lines().count(), 100);
                    assert!(text.lines().all(|l| l == format!("line {i}")));
                    assert_eq!(fs::metadata(&path).unwrap().len(), text.len() as u64);
                    fs::copy(&path, d.join("sub").join(format!("c{i}.txt"))).unwrap()
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap() > 0);
        }
        let mut names: Vec<_> = fs::read_dir(d.join("sub"))
            .unwrap()
            .into_iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        fs::rename(d.join("f0.txt"), d.join("renamed.txt")).unwrap();
        assert!(fs::metadata(d.join("f0.txt")).is_err());
        fs::remove_file(d.join("renamed.txt")).unwrap();
        names
    });
    assert_eq!(listed.len(), 16);
    assert!(listed.contains(&"c15.txt".to_string()));
    rt.run(move || fs::remove_dir_all(&dir).unwrap());
}

#[test]
fn fs_calls_work_from_goroutines_in_pinned_mode() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    round_trip_files(&rt, "pinned");
}

#[test]
fn fs_calls_work_from_goroutines_in_go_mode() {
    // SAFETY: the test's goroutines hold nothing thread-affine.
    let rt = unsafe { Runtime::builder().max_procs(2).migrate_goroutines() }
        .build()
        .unwrap();
    round_trip_files(&rt, "gomode");
}

#[test]
fn a_file_reads_writes_and_seeks_through_syscall() {
    let dir = scratch("file");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.bin");
    let p = path.clone();
    let got = goroutines::run(move || {
        let mut f = fs::File::create(&p).unwrap();
        for i in 0..1000u32 {
            f.write_all(format!("{i}\n").as_bytes()).unwrap();
        }
        f.sync_all().unwrap();
        drop(f);
        let mut f = fs::File::open(&p).unwrap();
        f.seek(SeekFrom::Start(4)).unwrap(); // past "0\n1\n"
        let mut first = [0u8; 2];
        f.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"2\n");
        f.seek(SeekFrom::Start(0)).unwrap();
        let lines: Vec<u32> = BufReader::new(f)
            .lines()
            .map(|l| l.unwrap().parse().unwrap())
            .collect();
        lines
    });
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fs_errors_are_std_io_errors_naming_the_problem() {
    let missing = scratch("missing").join("nope.txt");
    let err = goroutines::run(move || fs::read(&missing).unwrap_err());
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn fs_works_from_a_plain_thread() {
    let dir = scratch("thread");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("a"), b"abc").unwrap();
    assert_eq!(fs::read(dir.join("a")).unwrap(), b"abc");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lookup_host_resolves_through_the_blocking_path() {
    let addrs = goroutines::run(|| goroutines::net::lookup_host("127.0.0.1:8080")).unwrap();
    assert_eq!(addrs, vec!["127.0.0.1:8080".parse().unwrap()]);
    let err = goroutines::run(|| goroutines::net::lookup_host("no port here")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
