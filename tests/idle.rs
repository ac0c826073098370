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
