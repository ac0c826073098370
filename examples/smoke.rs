use std::time::Instant;
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(100_000);
    let t = Instant::now();
    let sum: u64 = goroutines::run(move || {
        let hs: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let el = t.elapsed();
    assert_eq!(sum, n * (n - 1) / 2);
    println!(
        "{n} spawn+join: {:?} ({:.1} ns/goroutine)",
        el,
        el.as_nanos() as f64 / n as f64
    );
}
