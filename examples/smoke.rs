//! Spawn+join of N goroutines, timing the spawn and join phases apart.
use std::time::Instant;
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100_000);
    let t = Instant::now();
    let (sum, spawn) = goroutines::run(move || {
        let t = Instant::now();
        let hs: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
        let spawn = t.elapsed();
        (
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>(),
            spawn,
        )
    });
    let el = t.elapsed();
    assert_eq!(sum, n * (n - 1) / 2);
    println!(
        "{n} spawn+join: {:?} ({:.1} ns/goroutine; spawn phase {:.1} ns/goroutine)",
        el,
        el.as_nanos() as f64 / n as f64,
        spawn.as_nanos() as f64 / n as f64
    );
}
