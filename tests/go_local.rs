//! `go_local`: `!Send` closures and results on the caller's OS thread.

mod common;

use common::gettid;
use goroutines::{chan, go_local, Runtime};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

fn pinned(procs: usize) -> Runtime {
    Runtime::builder().max_procs(procs).build().unwrap()
}

#[test]
fn go_local_runs_rc_closures_on_the_callers_thread_under_stealing_load() {
    let rt = pinned(4);
    let (threads, moved) = rt.run(|| {
        // Stealing load: plenty of ordinary goroutines that park and wake,
        // so idle Ps look for work to steal the whole time.
        let (tx, rx) = chan::bounded::<u32>(0);
        let noise: Vec<_> = (0..64)
            .map(|_| {
                let rx = rx.clone();
                goroutines::go(move || while rx.recv().is_ok() {})
            })
            .collect();
        let feeder = goroutines::go(move || {
            for i in 0..20_000 {
                tx.send(i).unwrap();
            }
        });

        let me = gettid();
        let shared = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let shared = shared.clone();
                go_local(move || {
                    let mut moved = 0;
                    for _ in 0..20 {
                        if gettid() != me {
                            moved += 1;
                        }
                        goroutines::yield_now();
                        goroutines::time::sleep(std::time::Duration::from_micros(50));
                    }
                    shared.borrow_mut().push(i);
                    (Rc::new(i), moved)
                })
            })
            .collect();
        let mut moved = 0;
        for (i, h) in handles.into_iter().enumerate() {
            let (value, m) = h.join().unwrap();
            assert_eq!(*value, i);
            moved += m;
        }
        feeder.join().unwrap();
        for n in noise {
            n.join().unwrap();
        }
        let ran = shared.borrow().len();
        (ran, moved)
    });
    assert_eq!(threads, 200, "every go_local goroutine ran");
    assert_eq!(moved, 0, "a go_local goroutine ran on another OS thread");
}

#[test]
fn go_local_goroutines_take_turns_with_their_spawner() {
    let rt = pinned(2);
    rt.run(|| {
        let counter = Rc::new(Cell::new(0u32));
        let (tx, rx) = chan::bounded::<()>(0);
        let c = counter.clone();
        let h = go_local(move || {
            c.set(c.get() + 1);
            rx.recv().unwrap();
            c.set(c.get() + 1);
            c.get()
        });
        assert!(!h.is_finished());
        tx.send(()).unwrap();
        assert_eq!(h.join().unwrap(), 2);
        assert_eq!(counter.get(), 2);
    });
}

#[test]
fn go_local_panic_comes_back_from_join() {
    let rt = pinned(2);
    rt.run(|| {
        let witness = Rc::new(());
        let w = witness.clone();
        let h = go_local(move || {
            let _w = w;
            panic!("local boom");
        });
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"local boom"));
        // The closure's Rc was dropped by the unwinding goroutine, on this
        // thread.
        assert_eq!(Rc::strong_count(&witness), 1);
    });
}

#[test]
fn an_unjoined_go_local_result_is_dropped_on_its_thread() {
    let rt = pinned(2);
    rt.run(|| {
        let witness = Rc::new(());
        let w = witness.clone();
        let h = go_local(move || w);
        while !h.is_finished() {
            goroutines::yield_now();
        }
        drop(h);
        assert_eq!(Rc::strong_count(&witness), 1, "the result was dropped");
    });
}

#[test]
fn go_local_from_a_plain_thread_panics_with_the_reason() {
    let err = std::panic::catch_unwind(|| go_local(|| 1)).unwrap_err();
    let msg = common::payload_text(err);
    assert!(msg.contains("must be called from a goroutine"), "{msg}");
}

#[test]
fn go_local_in_go_mode_panics_with_the_reason() {
    let rt = common::go_mode(2);
    let msg = rt.run(|| {
        let err = std::panic::catch_unwind(|| go_local(|| 1)).unwrap_err();
        common::payload_text(err)
    });
    assert!(msg.contains("pinned mode"), "{msg}");
}
