//! The worker pool: a fixed set of interpreter threads, a bounded job queue, the completion
//! queue and the one `mio::Waker` that tells the reactor answers are ready.
//!
//! Owns running eTamil for requests (with fresh state, a `Budget`, and `catch_unwind` around
//! every run) and the hand-off protocol: a worker is notified only when one is idle, a busy
//! worker keeps taking jobs until the queue is empty, and the reactor is woken only when it is
//! about to sleep (or asleep), so under load the hand-off costs no syscall per request. While
//! the workers share one CPU (placement.rs), worker 0 alone is woken, unless the queue stalls
//! (`STALL`). Workers never touch sockets; the reactor never runs eTamil.

use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::Waker;

use super::metrics::{HandlerFailure, Metrics, Rejection};
use super::placement;
use super::response::RequestId;
use crate::app::App;
use crate::lang::{self, Budget, Limit, Outcome, Output, RequestInput, RuntimeErrorKind};
use crate::logging;

/// Worker stacks: the VM's nesting limits (LANGUAGE.md 4.7: 200 source levels, 128 value levels,
/// 256 calls) are sized to fit in 16 MiB; twice that leaves room for builtins' own frames.
pub const WORKER_STACK_BYTES: usize = 32 << 20;

/// One request for a worker: which app and route, the request, and where the answer goes.
pub struct Job {
    /// The slab key of the connection…
    pub key: usize,
    /// …and its serial, so an answer for a closed (or reused) slot is dropped.
    pub serial: u64,
    /// The app that was current when the head was parsed.
    pub app: Arc<App>,
    pub route: usize,
    pub input: RequestInput,
    pub request_id: RequestId,
    pub enqueued: Instant,
}

/// How a job ended, for the reactor to frame.
#[derive(Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// `பதில்` ran.
    Response(lang::Response),
    /// The handler finished without `பதில்`: 204.
    NoContent,
    /// A status with a JSON error body (500 handler error, 504 deadline, 503 queued too long).
    Failed { status: u16, message: String },
}

/// A finished job on its way back to the reactor.
pub struct Completion {
    pub key: usize,
    pub serial: u64,
    pub outcome: JobOutcome,
}

/// The queue is full: the job comes back so the reactor can answer 503.
pub struct Busy(pub Box<Job>);

struct Queue {
    jobs: VecDeque<Job>,
    /// Workers waiting on the condvar.
    idle: usize,
    /// Notifications sent and not yet consumed by a waking worker; we notify only while
    /// `idle > wakeups`, so a burst of jobs wakes each sleeping worker once.
    wakeups: usize,
    /// Worker 0 sleeps on `Shared::primary` (only while the workers share one CPU).
    primary_parked: bool,
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Where worker 0 sleeps while the workers share one CPU, so it is the one woken.
    primary: Condvar,
    capacity: usize,
    /// `queue.jobs.len()`, readable without the lock for the reactor's capacity check.
    queued: AtomicUsize,
    done: Mutex<Vec<Completion>>,
    /// Set by the reactor just before it may block in poll; the first worker to swap it back
    /// pays the one wake-up syscall.
    reactor_asleep: AtomicBool,
    waker: Waker,
    budget: Budget,
    /// Jobs being run right now.
    busy: AtomicUsize,
    /// Jobs finished since start, for the placement governor.
    finished: AtomicU64,
    /// The workers share one CPU (placement.rs): worker 0 takes the jobs (`STALL`).
    one_cpu: AtomicBool,
    /// When a job last started (or a worker was woken to start one), µs since `epoch`.
    progress_us: AtomicU64,
    epoch: Instant,
    /// Worker threads in all.
    workers: usize,
    /// Bytes held by all connections and jobs, as the reactor last counted them.
    buffered: AtomicUsize,
    /// `--max-buffered-bytes`: over it, a job is answered 503 instead of being run.
    max_buffered_bytes: usize,
    /// Queue depth and busy workers are set here; handler failures are counted here.
    metrics: Arc<Metrics>,
}

/// Handle to the pool, owned by the reactor.
pub struct Pool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// The workers' kernel thread ids, for the placement governor.
    tids: Vec<libc::pid_t>,
    /// Jobs accepted this loop iteration, handed to the workers together by `flush`: one lock
    /// and at most one notification per batch instead of per job, so under load a worker
    /// finds a full queue rather than sleeping and being woken for every request.
    staged: Vec<Job>,
}

/// While the workers share one CPU (placement.rs), one worker, worker 0, takes the jobs: a
/// second could not run beside it, and waking it costs a futex call and two switches per batch
/// (at 10 connections 7.4 against 6.5 µs of CPU per request). When no job has started for this
/// long while jobs wait, worker 0 is on a slow one and another is woken, so a slow handler does
/// not hold up the quick ones behind it.
pub const STALL: Duration = Duration::from_millis(2);

/// A batch this large is handed over at once, without waiting for the end of the iteration,
/// so workers start while the reactor is still reading.
const STAGE_FLUSH_JOBS: usize = 64;

/// Mutex poisoning only means a thread panicked while holding the lock; the queues stay
/// structurally valid, so keep going rather than take the server down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub fn start(
        workers: usize,
        capacity: usize,
        budget: Budget,
        max_buffered_bytes: usize,
        waker: Waker,
        metrics: Arc<Metrics>,
    ) -> io::Result<Pool> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::with_capacity(capacity.min(4096)),
                idle: 0,
                wakeups: 0,
                primary_parked: false,
                stop: false,
            }),
            ready: Condvar::new(),
            primary: Condvar::new(),
            capacity,
            queued: AtomicUsize::new(0),
            done: Mutex::new(Vec::with_capacity(256)),
            reactor_asleep: AtomicBool::new(false),
            waker,
            budget,
            busy: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
            one_cpu: AtomicBool::new(false),
            progress_us: AtomicU64::new(0),
            epoch: Instant::now(),
            workers: workers.max(1),
            buffered: AtomicUsize::new(0),
            max_buffered_bytes,
            metrics,
        });
        let mut handles = Vec::with_capacity(workers);
        let (tid_tx, tid_rx) = mpsc::channel();
        for n in 0..workers.max(1) {
            let s = Arc::clone(&shared);
            let tid_tx = tid_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("etamil-worker-{n}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn(move || {
                    let _ = tid_tx.send(placement::current_tid());
                    drop(tid_tx);
                    worker(&s, n == 0)
                })?;
            handles.push(h);
        }
        drop(tid_tx);
        // Each worker sends its id before anything else, so this waits only for thread starts.
        let tids = tid_rx.iter().collect();
        Ok(Pool {
            shared,
            workers: handles,
            tids,
            staged: Vec::with_capacity(STAGE_FLUSH_JOBS),
        })
    }

    /// Accepts a job for the workers (handed over at the next `flush`), or gives it back when
    /// the queue, counting the jobs staged here, is full.
    pub fn try_submit(&mut self, job: Job) -> Result<(), Busy> {
        let queued = self.shared.queued.load(Ordering::Relaxed);
        if queued + self.staged.len() >= self.shared.capacity {
            return Err(Busy(Box::new(job)));
        }
        self.staged.push(job);
        if self.staged.len() >= STAGE_FLUSH_JOBS {
            self.flush();
        }
        Ok(())
    }

    /// Hands the staged jobs to the workers under one lock, waking only as many idle workers
    /// as there are new jobs. The reactor calls this before it polls.
    pub fn flush(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let wake = {
            let mut q = lock(&self.shared.queue);
            let added = self.staged.len();
            q.jobs.extend(self.staged.drain(..));
            // Set under the lock from the length itself, so the gauge cannot drift.
            self.shared.queued.store(q.jobs.len(), Ordering::Relaxed);
            self.shared.metrics.queue_depth.set(q.jobs.len() as i64);
            self.shared.to_wake(&mut q, added)
        };
        self.shared.notify(wake);
    }

    /// While worker 0 alone takes the jobs, wakes another if the queue has not moved for
    /// `STALL`. Returns true while jobs wait in that mode: the reactor then polls for at most
    /// `STALL`, so it looks again.
    pub fn watch_stall(&self) -> bool {
        let shared = &self.shared;
        if !shared.one_cpu.load(Ordering::Relaxed) || shared.queued.load(Ordering::Relaxed) == 0 {
            return false;
        }
        if shared.stalled() {
            let wake = {
                let mut q = lock(&shared.queue);
                if q.jobs.is_empty() {
                    return true;
                }
                shared.to_wake(&mut q, 1)
            };
            shared.notify(wake);
        }
        true
    }

    /// Called by the reactor before it may block: returns true when completions are already
    /// waiting (poll must not block). After this, a worker that finishes a job wakes it.
    pub fn reactor_sleeping(&self) -> bool {
        // SeqCst on both sides: either we see the worker's completion here, or the worker sees
        // the flag and wakes us.
        self.shared.reactor_asleep.store(true, Ordering::SeqCst);
        !lock(&self.shared.done).is_empty()
    }

    pub fn reactor_awake(&self) {
        self.shared.reactor_asleep.store(false, Ordering::SeqCst);
    }

    /// Moves every waiting completion into `into` (which should be empty), swapping buffers so
    /// neither side allocates in the steady state.
    pub fn take_completions(&self, into: &mut Vec<Completion>) {
        let mut done = lock(&self.shared.done);
        std::mem::swap(&mut *done, into);
    }

    /// The reactor's count of bytes held by connections and jobs, for `shed`.
    pub fn set_buffered(&self, bytes: usize) {
        self.shared.buffered.store(bytes, Ordering::Relaxed);
    }

    /// Jobs waiting for a worker, staged ones included.
    pub fn queued(&self) -> usize {
        lock(&self.shared.queue).jobs.len() + self.staged.len()
    }

    /// Jobs running right now.
    pub fn busy(&self) -> usize {
        self.shared.busy.load(Ordering::Relaxed)
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The threads the placement governor moves: `reactor` and the workers.
    pub fn placement_threads(&self, reactor: libc::pid_t) -> placement::Threads {
        let (counted, told) = (Arc::clone(&self.shared), Arc::clone(&self.shared));
        placement::Threads {
            reactor,
            workers: self.tids.clone(),
            finished_jobs: Box::new(move || counted.finished.load(Ordering::Relaxed)),
            share_one_cpu: Box::new(move |on| told.one_cpu.store(on, Ordering::Relaxed)),
        }
    }

    /// Lets the workers finish what is queued, then joins them.
    pub fn shutdown(mut self) {
        self.flush();
        lock(&self.shared.queue).stop = true;
        self.shared.ready.notify_all();
        self.shared.primary.notify_all();
        for h in self.workers {
            let _ = h.join();
        }
    }
}

/// Whom to notify: worker 0 on its own condvar, and how many on the common one.
struct Wake {
    primary: bool,
    others: usize,
}

impl Shared {
    /// Whom to wake for `added` new jobs, counted as woken. Normally one sleeping worker per
    /// job. While the workers share one CPU, worker 0 when no worker is awake, another when
    /// the awake one is stalled, else none: an awake worker takes every queued job before it
    /// sleeps.
    fn to_wake(&self, q: &mut Queue, added: usize) -> Wake {
        let sleeping = q.idle.saturating_sub(q.wakeups);
        let parked = usize::from(q.primary_parked);
        let mut want = if self.one_cpu.load(Ordering::Relaxed) {
            let awake = self.workers.saturating_sub(sleeping + parked);
            if awake > 0 && !self.stalled() {
                return Wake {
                    primary: false,
                    others: 0,
                };
            }
            self.progressed();
            1
        } else {
            added
        };
        let primary = want > 0 && q.primary_parked;
        if primary {
            q.primary_parked = false;
            want -= 1;
        }
        let others = sleeping.min(want);
        q.wakeups += others;
        Wake { primary, others }
    }

    fn notify(&self, wake: Wake) {
        if wake.primary {
            self.primary.notify_one();
        }
        for _ in 0..wake.others {
            self.ready.notify_one();
        }
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn progressed(&self) {
        self.progress_us.store(self.now_us(), Ordering::Relaxed);
    }

    /// No job has started for `STALL`.
    fn stalled(&self) -> bool {
        let since = self.progress_us.load(Ordering::Relaxed);
        self.now_us().saturating_sub(since) >= STALL.as_micros() as u64
    }
}

/// A worker's loop; `primary` for worker 0, the one that takes the jobs while the workers
/// share one CPU.
fn worker(shared: &Shared, primary: bool) {
    loop {
        let mut job = {
            let mut q = lock(&shared.queue);
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    shared.queued.store(q.jobs.len(), Ordering::Relaxed);
                    shared.metrics.queue_depth.set(q.jobs.len() as i64);
                    break job;
                }
                if q.stop {
                    return;
                }
                if primary && shared.one_cpu.load(Ordering::Relaxed) {
                    // Whoever wakes us clears the flag; a spurious wake-up clears it here.
                    q.primary_parked = true;
                    q = shared.primary.wait(q).unwrap_or_else(|e| e.into_inner());
                    q.primary_parked = false;
                    continue;
                }
                q.idle += 1;
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                q.idle -= 1;
                q.wakeups = q.wakeups.saturating_sub(1);
            }
        };
        shared.busy.fetch_add(1, Ordering::Relaxed);
        if shared.one_cpu.load(Ordering::Relaxed) {
            shared.progressed();
        }
        shared.metrics.busy_workers.inc();
        let outcome =
            shed(shared).unwrap_or_else(|| run_job(&mut job, &shared.budget, &shared.metrics));
        shared.metrics.busy_workers.dec();
        shared.busy.fetch_sub(1, Ordering::Relaxed);
        lock(&shared.done).push(Completion {
            key: job.key,
            serial: job.serial,
            outcome,
        });
        shared.finished.fetch_add(1, Ordering::Relaxed);
        if shared.reactor_asleep.swap(false, Ordering::SeqCst) {
            if let Err(e) = shared.waker.wake() {
                log::error!("cannot wake the reactor: {e}");
            }
        }
        // `job` (its body, its app Arc) is dropped here, off the reactor thread.
    }
}

/// A job about to start while the bytes held are over `--max-buffered-bytes` is answered 503
/// and not run, as one that waited past the deadline: what pushes the count over is mostly
/// answers not yet written, and each run could add up to a handler's memory of response.
/// So only runs that started under the cap can add to it, at most one per worker.
fn shed(shared: &Shared) -> Option<JobOutcome> {
    let limit = shared.max_buffered_bytes;
    if shared.buffered.load(Ordering::Relaxed) <= limit {
        return None;
    }
    shared.metrics.record_rejection(Rejection::BuffersFull);
    Some(JobOutcome::Failed {
        status: 503,
        message: format!("server overloaded: too many bytes buffered (limit is {limit} bytes)"),
    })
}

/// `அச்சு` in serve mode goes to the log with the request id (LANGUAGE.md 10.3), never to the
/// client. Each line is handed to the log writer as it is printed (not collected to the end),
/// so what a handler printed before it hung or failed is still logged.
struct PrintToLog<'a>(&'a str);

impl Output for PrintToLog<'_> {
    fn print(&mut self, line: &str) {
        logging::handler_print(self.0, line);
    }
}

/// The metrics kind of a failed run.
fn failure_kind(kind: &RuntimeErrorKind) -> HandlerFailure {
    match kind {
        RuntimeErrorKind::Limit(Limit::Deadline) => HandlerFailure::Deadline,
        RuntimeErrorKind::Limit(Limit::Memory) => HandlerFailure::Memory,
        RuntimeErrorKind::Limit(Limit::Instructions) => HandlerFailure::Instructions,
        // Nesting limits are the program's own recursion: runtime errors like any other.
        RuntimeErrorKind::Limit(Limit::CallDepth | Limit::ValueDepth) | RuntimeErrorKind::Error => {
            HandlerFailure::Runtime
        }
    }
}

/// Runs one job to an outcome, counting failures; never panics outward.
pub fn run_job(job: &mut Job, budget: &Budget, metrics: &Metrics) -> JobOutcome {
    let timeout = budget.timeout.unwrap_or(Duration::MAX);
    if job.enqueued.elapsed() > timeout {
        // SERVER.md: a job still queued past the deadline is not run.
        metrics.record_rejection(Rejection::QueueTimeout);
        return JobOutcome::Failed {
            status: 503,
            message: "server overloaded: request waited too long".to_owned(),
        };
    }
    // The reactor only chose the route; the parameters are decoded here, on the worker.
    job.input.params = job.app.router.params(job.route, &job.input.path);
    let mut out = PrintToLog(&job.request_id);
    let run = catch_unwind(AssertUnwindSafe(|| {
        lang::vm::run_route(&job.app.program, job.route, &job.input, &mut out, budget)
    }));
    match run {
        Ok(Ok(Outcome::Response(r))) => JobOutcome::Response(r),
        Ok(Ok(Outcome::Finished)) => JobOutcome::NoContent,
        Ok(Ok(Outcome::Exit(_))) => {
            // The VM reports வெளியேறு in serve mode as an error; this is only belt and braces.
            JobOutcome::Failed {
                status: 500,
                message: "exit is not allowed in a request handler".to_owned(),
            }
        }
        Ok(Err(e)) => {
            let status = if e.kind == RuntimeErrorKind::Limit(Limit::Deadline) {
                504
            } else {
                500
            };
            let message = e.message();
            let kind = failure_kind(&e.kind);
            metrics.record_handler_failure(kind);
            log::warn!(
                request_id = &*job.request_id,
                status = status,
                kind = kind.label();
                "handler error: {message}"
            );
            JobOutcome::Failed { status, message }
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            metrics.record_handler_failure(HandlerFailure::Panic);
            log::error!(request_id = &*job.request_id; "handler panicked: {what}");
            JobOutcome::Failed {
                status: 500,
                message: "internal error".to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Program;
    use crate::server::limits::Limits;
    use crate::server::router::Router;
    use mio::{Events, Poll, Token};

    fn job(app: &Arc<App>) -> Job {
        Job {
            key: 7,
            serial: 1,
            app: Arc::clone(app),
            route: 0,
            input: RequestInput::default(),
            request_id: "r".into(),
            enqueued: Instant::now(),
        }
    }

    const PATIENCE: Duration = Duration::from_secs(30);

    fn next_outcome(pool: &mut Pool, poll: &mut Poll) -> JobOutcome {
        completions(pool, poll, 1).remove(0).outcome
    }

    /// Two routes: `/slow` counts to two million (tens of milliseconds even in release), `/quick`
    /// answers at once.
    fn slow_and_quick_app() -> Arc<App> {
        let source =
            "வழி பெறு, \"/slow\" { i = 0; (i < 2000000) சுற்று { i = i + 1; } பதில் 200, i; }\n\
                      வழி பெறு, \"/quick\" { பதில் 200, \"q\"; }\n";
        let program = lang::compile_source(source, "t.qmz", std::path::Path::new(".")).unwrap();
        Arc::new(App::new(program, "t".into()))
    }

    fn routed(app: &Arc<App>, route: usize, key: usize) -> Job {
        Job {
            key,
            route,
            ..job(app)
        }
    }

    /// Every completion until `n` have come, in order of arrival, polling as the reactor does:
    /// announce the sleep, then poll unless answers are waiting, for at most `STALL` while
    /// `watch_stall` says jobs wait.
    fn completions(pool: &mut Pool, poll: &mut Poll, n: usize) -> Vec<Completion> {
        pool.flush();
        let mut events = Events::with_capacity(4);
        let (mut batch, mut done) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + PATIENCE;
        while done.len() < n {
            assert!(Instant::now() < deadline, "only {} completed", done.len());
            let watch = pool.watch_stall();
            if pool.reactor_sleeping() {
                pool.reactor_awake();
                pool.take_completions(&mut batch);
                done.append(&mut batch);
                continue;
            }
            poll.poll(&mut events, Some(if watch { STALL } else { PATIENCE }))
                .unwrap();
            pool.reactor_awake();
        }
        done
    }

    fn keys(done: Vec<Completion>) -> Vec<usize> {
        done.into_iter().map(|c| c.key).collect()
    }

    fn start_pool(poll: &Poll, workers: usize) -> Pool {
        let waker = Waker::new(poll.registry(), Token(0)).unwrap();
        let budget = Limits::default().budget();
        Pool::start(
            workers,
            1024,
            budget,
            usize::MAX,
            waker,
            Arc::new(Metrics::new(&[])),
        )
        .unwrap()
    }

    /// While the workers share one CPU worker 0 alone takes the jobs, but a quick job queued
    /// behind a slow one does not wait for it: the stalled queue wakes another worker.
    #[test]
    fn sharing_one_cpu_a_quick_job_is_not_held_up_by_a_slow_one() {
        let mut poll = Poll::new().unwrap();
        let mut pool = start_pool(&poll, 2);
        (pool.placement_threads(0).share_one_cpu)(true);
        let app = slow_and_quick_app();
        pool.try_submit(routed(&app, 0, 1)).ok().unwrap();
        pool.flush();
        // Let worker 0 start the slow one before the quick one is queued.
        let deadline = Instant::now() + PATIENCE;
        while pool.busy() == 0 {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        pool.try_submit(routed(&app, 1, 2)).ok().unwrap();
        assert_eq!(keys(completions(&mut pool, &mut poll, 2)), [2, 1]);
        pool.shutdown();
    }

    /// Switching between one worker and all of them while jobs flow loses none.
    #[test]
    fn every_job_completes_while_sharing_switches_on_and_off() {
        let mut poll = Poll::new().unwrap();
        let mut pool = start_pool(&poll, 3);
        let share = pool.placement_threads(0).share_one_cpu;
        let app = slow_and_quick_app();
        for round in 0..40 {
            share(round % 3 != 0);
            for key in 0..5 {
                pool.try_submit(routed(&app, 1, round * 10 + key))
                    .ok()
                    .unwrap();
            }
            let mut got = keys(completions(&mut pool, &mut poll, 5));
            got.sort_unstable();
            assert_eq!(got, (0..5).map(|k| round * 10 + k).collect::<Vec<_>>());
        }
        pool.shutdown();
    }

    /// Issue 4: a job about to start while the server holds more than `--max-buffered-bytes`
    /// is answered 503 and not run; under the cap it runs.
    #[test]
    fn jobs_are_shed_over_the_buffered_bytes_cap() {
        let mut poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), Token(0)).unwrap();
        let metrics = Arc::new(Metrics::new(&[]));
        let budget = Limits::default().budget();
        let mut pool = Pool::start(1, 8, budget, 1000, waker, metrics).unwrap();
        let app = Arc::new(App {
            program: Program::default(),
            router: Router::new(&[]),
            origin: "t".into(),
            metric_ids: Vec::new(),
        });
        pool.set_buffered(1001);
        pool.try_submit(job(&app)).ok().unwrap();
        match next_outcome(&mut pool, &mut poll) {
            JobOutcome::Failed { status, message } => {
                assert_eq!(status, 503);
                assert!(message.contains("limit is 1000 bytes"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        pool.set_buffered(1000);
        pool.try_submit(job(&app)).ok().unwrap();
        // The app has no compiled route 0: the job ran and failed in the VM.
        let ran = next_outcome(&mut pool, &mut poll);
        assert!(
            matches!(ran, JobOutcome::Failed { status: 500, .. }),
            "{ran:?}"
        );
        pool.shutdown();
    }
}
