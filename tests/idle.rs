//! An idle runtime parks every M: no sleep loops, no busy polling.

use goroutines::Runtime;
use std::time::Duration;

/// (thread name, state letter, utime + stime ticks) for this process.
fn threads() -> Vec<(String, char, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = entry.unwrap().path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let state = fields[0].chars().next().unwrap();
        let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        out.push((name, state, ticks));
    }
    out
}

fn m_threads() -> Vec<(String, char, u64)> {
    threads()
        .into_iter()
        .filter(|t| t.0.starts_with("goroutines-m"))
        .collect()
}

#[test]
fn an_idle_runtime_parks_all_ms() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    // Work on both Ps, then nothing.
    rt.run(|| {
        let hs: Vec<_> = (0..10_000).map(|i| goroutines::go(move || i)).collect();
        hs.into_iter().for_each(|h| drop(h.join()));
    });
    std::thread::sleep(Duration::from_millis(100));
    let before = m_threads();
    assert!(
        before.len() >= 2,
        "expected both Ms to have started: {before:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let after = m_threads();
    for (name, state, ticks) in &after {
        assert_eq!(*state, 'S', "{name} is not asleep: {after:?}");
        let earlier = before.iter().find(|t| &t.0 == name).map_or(0, |t| t.2);
        assert!(
            *ticks <= earlier + 1,
            "{name} used CPU while the runtime was idle: {earlier} -> {ticks} ticks"
        );
    }
    drop(rt);
}

/// A spinning M that finds work recruits another spinner only when more
/// work that any P may run is waiting (idle.rs step 3). A plain thread
/// trading messages with a goroutine, in pinned mode, never leaves such
/// work: each message readies the goroutine into its home P's inbox, so no
/// exchange recruits an M (each used to, whenever the goroutine's M was
/// spinning when the message came: a second thread woken and spinning for
/// nothing, on the CPU the plain thread wanted).
#[test]
fn a_thread_trading_with_a_goroutine_recruits_no_spinning_m() {
    const ROUND_TRIPS: u64 = 2_000;
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let (to_g, from_thread) = goroutines::chan::bounded::<u64>(0);
    let (to_thread, from_g) = goroutines::chan::bounded::<u64>(0);
    let echo = rt.go(move || {
        for v in from_thread {
            to_thread.send(v + 1).unwrap();
        }
    });
    // The spawn itself may recruit (a new goroutine is stealable): start
    // counting once the goroutine has answered.
    to_g.send(0).unwrap();
    assert_eq!(from_g.recv().unwrap(), 1);
    let before = rt.stats();
    for i in 0..ROUND_TRIPS {
        to_g.send(i).unwrap();
        assert_eq!(from_g.recv().unwrap(), i + 1);
    }
    let after = rt.stats();
    drop(to_g);
    echo.join().unwrap();
    assert_eq!(
        after.spinning_recruits - before.spinning_recruits,
        0,
        "{ROUND_TRIPS} round trips; before: {before:?}; after: {after:?}"
    );
}
