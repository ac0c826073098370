//! The execution trace (`goroutines::trace`): a traced program gives Chrome
//! JSON that parses, with a lane per P and a slice per goroutine run, and
//! an HTML timeline; tracing off writes nothing; `GOROUTINES_TRACE` starts
//! a trace owned by a runtime and names itself when its path is bad.
//!
//! One trace records the whole process, so the tests that record take
//! `SERIAL`; the environment-variable tests run in child processes.

mod common;

use serde_json::Value;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("goroutines-trace-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Spawns, a CPU-bound burst that needs both Ps, channel ping-pong, a
/// sleep and a syscall. Returns how many goroutines it spawned.
fn small_program() -> u64 {
    let (tx, rx) = goroutines::chan::bounded::<u64>(0);
    let (back_tx, back_rx) = goroutines::chan::bounded::<u64>(0);
    let ponger = goroutines::go(move || {
        while let Ok(v) = rx.recv() {
            back_tx.send(v + 1).unwrap();
        }
    });
    for i in 0..100 {
        tx.send(i).unwrap();
        assert_eq!(back_rx.recv().unwrap(), i + 1);
    }
    drop(tx);
    ponger.join().unwrap();
    let busy: Vec<_> = (0..8)
        .map(|_| {
            goroutines::go(|| {
                let until = Instant::now() + Duration::from_millis(3);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for h in busy {
        h.join().unwrap();
    }
    goroutines::time::sleep(Duration::from_millis(2));
    let entries = goroutines::syscall(|| std::fs::read_dir("/").map(|d| d.count()));
    assert!(entries.unwrap() > 0);
    1 + 8
}

fn events(doc: &Value) -> &Vec<Value> {
    doc["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
}

fn lane_names(doc: &Value) -> Vec<String> {
    events(doc)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn traced_program_gives_chrome_json_with_a_lane_per_p_and_goroutine_slices() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
    let dir = scratch("program");
    goroutines::trace::start(dir.join("t")).unwrap();
    assert!(goroutines::trace::is_recording());
    let started = Instant::now();
    let spawned = rt.run(small_program);
    let files = goroutines::trace::stop().unwrap();
    let wall = started.elapsed();
    assert!(!goroutines::trace::is_recording());
    assert_eq!(files.json, dir.join("t.json"));
    assert_eq!(files.html, dir.join("t.html"));

    let text = std::fs::read_to_string(&files.json).unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
    let lanes = lane_names(&doc);
    for p in ["P0", "P1"] {
        assert!(lanes.iter().any(|l| l == p), "no lane {p} in {lanes:?}");
    }
    assert!(
        lanes.iter().any(|l| l.starts_with('M')),
        "no M lane in {lanes:?}"
    );

    let slices: Vec<&Value> = events(&doc).iter().filter(|e| e["ph"] == "X").collect();
    let goroutine_slices = slices.iter().filter(|e| e["cat"] == "goroutine").count() as u64;
    // Each goroutine ran at least once (plus the main one and its resumes),
    // and each run appears on its P's lane and its M's lane.
    assert!(
        goroutine_slices >= 2 * (spawned + 1),
        "{goroutine_slices} slices for {spawned} goroutines"
    );
    for s in &slices {
        assert!(s["name"].as_str().unwrap().starts_with('g') || s["name"] == "idle");
        assert!(s["dur"].as_f64().unwrap() >= 0.0);
    }
    let instants = |cat: &str| {
        events(&doc)
            .iter()
            .filter(|e| e["ph"] == "i" && e["cat"] == cat)
            .count()
    };
    assert!(instants("spawn") as u64 >= spawned);
    // The ping-pong alone parks and readies a goroutine 100 times each way.
    assert!(instants("park") >= 100, "parks: {}", instants("park"));
    assert!(instants("ready") >= 100, "readies: {}", instants("ready"));
    assert!(instants("syscall enter") >= 1 && instants("syscall exit") >= 1);
    assert!(instants("timer fire") >= 1);
    // Timestamps are real time: the program spins 8 x 3 ms on 2 Ps and
    // sleeps 2 ms, so the trace spans at least 12 + 2 ms, and its wall time
    // bounds it from above.
    let span_us = events(&doc)
        .iter()
        .filter_map(|e| Some(e["ts"].as_f64()? + e["dur"].as_f64().unwrap_or(0.0)))
        .fold(0.0, f64::max);
    assert!(span_us >= 14_000.0, "trace spans {span_us} us");
    assert!(
        span_us <= wall.as_secs_f64() * 1e6 * 1.05,
        "trace spans {span_us} us in {wall:?}"
    );
    assert_eq!(doc["otherData"]["dropped"], 0);
    assert_eq!(
        doc["otherData"]["events"].as_u64().unwrap() as usize,
        files.events
    );

    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("<canvas") && html.contains("\"P0\"") && html.contains("\"P1\""));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page fetches nothing"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn run_events_are_at_least_one_per_goroutine() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let dir = scratch("counts");
    goroutines::trace::start(dir.join("t.json")).unwrap();
    let ids: Vec<u64> = rt.run(|| {
        let hs: Vec<_> = (0..50)
            .map(|_| goroutines::go(|| goroutines::goroutine_id().unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let files = goroutines::trace::stop().unwrap();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    for id in ids {
        let name = format!("g{id}");
        let runs = events(&doc)
            .iter()
            .filter(|e| e["ph"] == "X" && e["name"] == name.as_str())
            .count();
        assert!(runs >= 1, "goroutine {id} has no slice");
        let exits = events(&doc)
            .iter()
            .filter(|e| e["ph"] == "X" && e["name"] == name.as_str() && e["args"]["end"] == "exit")
            .count();
        assert!(
            exits >= 1,
            "goroutine {id}'s last slice does not end in exit"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn starting_twice_is_an_error_and_stopping_without_a_trace_is_too() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("twice");
    goroutines::trace::start(dir.join("a")).unwrap();
    let err = goroutines::trace::start(dir.join("b")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    goroutines::trace::stop().unwrap();
    let err = goroutines::trace::stop().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn tracing_off_writes_no_files() {
    if common::is_child() {
        let here = std::env::current_dir().unwrap();
        let rt = goroutines::Runtime::builder().max_procs(2).build().unwrap();
        rt.run(small_program);
        drop(rt);
        assert!(!goroutines::trace::is_recording());
        assert!(goroutines::trace::stop().is_err());
        let left: Vec<_> = std::fs::read_dir(&here).unwrap().collect();
        assert!(left.is_empty(), "files written with tracing off: {left:?}");
        return;
    }
    let dir = scratch("off");
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["tracing_off_writes_no_files", "--exact", "--nocapture"])
        .env(common::CHILD_ENV, "1")
        .env_remove("GOROUTINES_TRACE")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}",
        common::stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn goroutines_trace_with_a_bad_path_is_an_error_naming_it() {
    if common::is_child() {
        let err = goroutines::Runtime::builder()
            .build()
            .err()
            .expect("a bad path fails build");
        let msg = err.to_string();
        assert!(msg.contains("GOROUTINES_TRACE=/nonexistent-dir/t"), "{msg}");
        assert!(msg.contains("cannot create"), "{msg}");
        return;
    }
    let out = common::run_child(
        "goroutines_trace_with_a_bad_path_is_an_error_naming_it",
        &[("GOROUTINES_TRACE", "/nonexistent-dir/t")],
    );
    assert!(
        out.status.success(),
        "child failed: {}",
        common::stderr(&out)
    );
}

#[test]
fn goroutines_trace_is_written_when_its_runtime_is_dropped() {
    if common::is_child() {
        return;
    }
    let dir = scratch("env");
    let base = dir.join("envtrace");
    let out = common::run_child(
        "goroutines_trace_written_by_runtime_drop_child",
        &[("GOROUTINES_TRACE", base.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "child failed: {}",
        common::stderr(&out)
    );
    let text = std::fs::read_to_string(base.with_extension("json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(lane_names(&doc).iter().any(|l| l == "P0"));
    assert!(base.with_extension("html").exists());
    assert!(common::stderr(&out).contains("trace of"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The child half of the test above (does nothing in the parent run).
#[test]
fn goroutines_trace_written_by_runtime_drop_child() {
    if !common::is_child() {
        return;
    }
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    assert!(goroutines::trace::is_recording());
    rt.run(small_program);
    drop(rt);
    assert!(!goroutines::trace::is_recording());
}

#[test]
fn full_buffers_keep_the_oldest_events_and_count_the_dropped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let rt = goroutines::Runtime::builder().max_procs(1).build().unwrap();
    let dir = scratch("full");
    goroutines::trace::start(dir.join("t")).unwrap();
    // About 6 events per spawn+join on one P: far past a P buffer's 2^17.
    let first = rt.run(|| {
        let first = goroutines::go(|| ()).id();
        for _ in 0..8 {
            let hs: Vec<_> = (0..5_000).map(|_| goroutines::go(|| ())).collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
        }
        first
    });
    let files = goroutines::trace::stop().unwrap();
    assert!(files.dropped > 0, "{} events, none dropped", files.events);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    assert_eq!(doc["otherData"]["dropped"].as_u64(), Some(files.dropped));
    // New events were dropped, so the first goroutine's spawn is still there.
    let spawn_of_first = format!("spawn g{first} ");
    assert!(
        events(&doc).iter().any(|e| e["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(&spawn_of_first))),
        "the oldest events were not kept"
    );
    let _ = std::fs::remove_dir_all(dir);
}
