use std::time::Instant;
fn main() {
    let n: u64 = 1_000_000;
    for round in 0..3 {
        let t = Instant::now();
        let sum: u64 = goroutines::run(move || {
            let hs: Vec<_> = (0..n).map(|i| goroutines::go(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let el = t.elapsed();
        assert_eq!(sum, n * (n - 1) / 2);
        println!(
            "round {round} {n} spawn+join: {:?} ({:.1} ns/goroutine)",
            el,
            el.as_nanos() as f64 / n as f64
        );
    }
    let t = Instant::now();
    goroutines::run(move || {
        let mut hs = Vec::with_capacity(1000);
        for _ in 0..n / 1000 {
            for i in 0..1000u64 {
                hs.push(goroutines::go(move || i));
            }
            for h in hs.drain(..) {
                h.join().unwrap();
            }
        }
    });
    let el = t.elapsed();
    println!(
        "batched-1000 spawn+join: {:.1} ns/goroutine",
        el.as_nanos() as f64 / n as f64
    );
}
