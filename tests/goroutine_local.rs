//! `goroutine_local!`: one value per goroutine, in both modes.

use goroutines::Runtime;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

goroutines::goroutine_local! {
    static ID: Cell<u64> = Cell::new(0);
    static LOG: RefCell<Vec<u32>> = RefCell::new(Vec::new());
}

fn each_goroutine_keeps_its_own_value_across_parks(rt: Runtime) {
    let ok = rt.run(|| {
        let hs: Vec<_> = (1..=200u64)
            .map(|i| {
                goroutines::go(move || {
                    ID.with(|id| id.set(i));
                    for step in 0..20u32 {
                        LOG.with(|l| l.borrow_mut().push(step));
                        if step % 2 == 0 {
                            goroutines::yield_now();
                        } else {
                            goroutines::go(|| ()).join().unwrap();
                        }
                        if ID.with(|id| id.get()) != i {
                            return false;
                        }
                    }
                    LOG.with(|l| *l.borrow() == (0..20).collect::<Vec<_>>())
                })
            })
            .collect();
        hs.into_iter().all(|h| h.join().unwrap())
    });
    assert!(ok, "a goroutine saw another goroutine's local");
}

#[test]
fn each_goroutine_keeps_its_own_value_across_parks_in_pinned_mode() {
    each_goroutine_keeps_its_own_value_across_parks(
        Runtime::builder().max_procs(2).build().unwrap(),
    );
}

#[test]
fn each_goroutine_keeps_its_own_value_across_parks_in_go_mode() {
    // SAFETY: these goroutines keep no thread-local borrows across parks;
    // goroutine-locals are what they use instead.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(2)
        .build()
        .unwrap();
    each_goroutine_keeps_its_own_value_across_parks(rt);
}

struct CountsDrops(Arc<AtomicUsize>);
impl Drop for CountsDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

goroutines::goroutine_local! {
    static GUARD: RefCell<Option<CountsDrops>> = RefCell::new(None);
}

#[test]
fn locals_are_dropped_when_the_goroutine_returns_before_join_does() {
    let rt = Runtime::builder().max_procs(2).build().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    rt.run(move || {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let d = d.clone();
                goroutines::go(move || GUARD.with(|g| *g.borrow_mut() = Some(CountsDrops(d))))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(d.load(Ordering::SeqCst), 50);
    });
    assert_eq!(drops.load(Ordering::SeqCst), 50);
}

goroutines::goroutine_local! {
    static SHARED_RC: Rc<Cell<u32>> = Rc::new(Cell::new(0));
}

/// A `!Send` value may live in a goroutine-local even in Go mode: only its
/// goroutine can reach it, wherever that goroutine runs.
#[test]
fn a_non_send_local_follows_its_goroutine_in_go_mode() {
    // SAFETY: nothing thread-affine is held across parks.
    let rt = unsafe { Runtime::builder().migrate_goroutines() }
        .max_procs(2)
        .build()
        .unwrap();
    let total = rt.run(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                goroutines::go(|| {
                    for _ in 0..50 {
                        SHARED_RC.with(|rc| rc.set(rc.get() + 1));
                        goroutines::yield_now();
                    }
                    SHARED_RC.with(|rc| rc.get())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u32>()
    });
    assert_eq!(total, 100 * 50);
}

#[test]
fn a_plain_thread_has_its_own_value() {
    ID.with(|id| id.set(77));
    let other = std::thread::spawn(|| ID.with(|id| id.get()))
        .join()
        .unwrap();
    assert_eq!(other, 0);
    assert_eq!(ID.with(|id| id.get()), 77);
    let in_goroutine = goroutines::go(|| ID.with(|id| id.get())).join().unwrap();
    assert_eq!(in_goroutine, 0);
}
