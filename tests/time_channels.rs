//! `time::{after, tick, Ticker}`: time delivered on channels.

use goroutines::time::{after, tick, Ticker};
use goroutines::Runtime;
use std::time::{Duration, Instant};

#[test]
fn after_delivers_once_no_earlier_than_asked() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let start = Instant::now();
        let rx = after(Duration::from_millis(15));
        let at = rx.recv().unwrap();
        assert!(at - start >= Duration::from_millis(15));
        assert!(rx.try_recv().is_err(), "after fires once");
    });
}

#[test]
fn tick_delivers_repeatedly_without_drift() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let start = Instant::now();
        let rx = tick(Duration::from_millis(2));
        for _ in 0..10 {
            rx.recv().unwrap();
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn a_stopped_ticker_ends_its_channel() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let t = Ticker::new(Duration::from_millis(1));
        t.receiver().recv().unwrap();
        t.stop();
        // At most one tick was already in the channel; then it ends.
        let mut after_stop = 0;
        while t.receiver().recv().is_ok() {
            after_stop += 1;
            assert!(after_stop <= 1, "ticks kept coming after stop");
        }
    });
}

#[test]
fn dropping_a_tick_receiver_stops_its_timer() {
    let rt = Runtime::builder().max_procs(1).build().unwrap();
    rt.run(|| {
        let rx = tick(Duration::from_millis(1));
        rx.recv().unwrap();
        drop(rx);
        let start = Instant::now();
        while goroutines::stats().timers > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the ticker kept re-arming"
            );
            goroutines::time::sleep(Duration::from_millis(2));
        }
    });
}

#[test]
fn time_channels_work_in_select() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    rt.run(|| {
        let never = goroutines::chan::never::<u32>();
        let timeout = after(Duration::from_millis(5));
        let fired = goroutines::select! {
            recv(never) -> _ => false,
            recv(timeout) -> _ => true,
        };
        assert!(fired);
    });
}
