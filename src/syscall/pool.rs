//! The blocking-thread pool behind `syscall`.
//!
//! * One pool per process, started on first use.
//! * A job goes to an idle thread if there is one, else a new thread is
//!   started, up to [`MAX_THREADS`]; past that, jobs queue.
//! * A thread idle for [`KEEP_ALIVE`] exits, so a burst of blocking calls
//!   does not leave threads behind.
//! * If the OS refuses a thread, a warning says why (once); if no pool
//!   thread exists to take the job, it runs on the submitting thread (an
//!   M, which it blocks meanwhile) rather than wait for one forever.
//!
//! Protected by `State`'s mutex: the queue and the thread counts. Threads
//! wait on the condvar.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Most threads the pool runs at once (tokio's default blocking pool size).
pub(crate) const MAX_THREADS: usize = 512;
/// How long an idle pool thread waits for a job before it exits.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    state: Mutex<State>,
    work: Condvar,
}

struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
    warned: bool,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            threads: 0,
            idle: 0,
            warned: false,
        }),
        work: Condvar::new(),
    })
}

/// Runs `job` on a pool thread.
pub(crate) fn submit(job: Job) {
    let pool = pool();
    let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
    st.queue.push_back(job);
    if st.idle > 0 {
        pool.work.notify_one();
        return;
    }
    if st.threads < MAX_THREADS {
        st.threads += 1;
        let started = std::thread::Builder::new()
            .name("goroutines-syscall".into())
            .spawn(move || worker(pool));
        if let Err(e) = started {
            st.threads -= 1;
            if !st.warned {
                st.warned = true;
                eprintln!(
                    "goroutines: cannot start a blocking-pool thread ({e}); {} threads serve syscall() jobs",
                    st.threads
                );
            }
            if st.threads == 0 {
                // Nobody would ever take the job: run it here, blocking
                // this thread as a plain blocking call would.
                let job = st.queue.pop_back().expect("pushed above");
                drop(st);
                job();
            }
        }
    }
}

fn worker(pool: &'static Pool) {
    let mut st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            job(); // jobs catch their own panics (see syscall)
            st = pool.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        st.idle += 1;
        let (next, timeout) = pool
            .work
            .wait_timeout(st, KEEP_ALIVE)
            .unwrap_or_else(|e| e.into_inner());
        st = next;
        st.idle -= 1;
        if timeout.timed_out() && st.queue.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}
