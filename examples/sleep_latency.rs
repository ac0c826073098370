//! How late `time::sleep` wakes on an idle runtime: min/median/max over 200
//! sleeps of 2 ms.
use std::time::{Duration, Instant};
fn main() {
    let mut late: Vec<Duration> = goroutines::run(|| {
        (0..200)
            .map(|_| {
                let t = Instant::now();
                goroutines::time::sleep(Duration::from_millis(2));
                t.elapsed() - Duration::from_millis(2)
            })
            .collect()
    });
    late.sort();
    println!(
        "sleep(2ms) lateness: min {:?} median {:?} p99 {:?} max {:?}",
        late[0], late[100], late[198], late[199]
    );
}
