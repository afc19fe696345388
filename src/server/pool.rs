//! The worker pool: a fixed set of interpreter threads, a bounded job queue, the completion
//! queue and the one `mio::Waker` that tells the reactor answers are ready.
//!
//! Owns running eTamil for requests (with fresh state, a `Budget`, and `catch_unwind` around
//! every run) and the hand-off protocol: a worker is notified only when one is idle, a busy
//! worker keeps taking jobs until the queue is empty, and the reactor is woken only when it is
//! about to sleep (or asleep), so under load the hand-off costs no syscall per request. Workers
//! never touch sockets; the reactor never runs eTamil.

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
    stop: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
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
                stop: false,
            }),
            ready: Condvar::new(),
            capacity,
            queued: AtomicUsize::new(0),
            done: Mutex::new(Vec::with_capacity(256)),
            reactor_asleep: AtomicBool::new(false),
            waker,
            budget,
            busy: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
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
                    worker(&s)
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
            let wake = q.idle.saturating_sub(q.wakeups).min(added);
            q.wakeups += wake;
            wake
        };
        for _ in 0..wake {
            self.shared.ready.notify_one();
        }
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
        let shared = Arc::clone(&self.shared);
        placement::Threads {
            reactor,
            workers: self.tids.clone(),
            finished_jobs: Box::new(move || shared.finished.load(Ordering::Relaxed)),
        }
    }

    /// Lets the workers finish what is queued, then joins them.
    pub fn shutdown(mut self) {
        self.flush();
        lock(&self.shared.queue).stop = true;
        self.shared.ready.notify_all();
        for h in self.workers {
            let _ = h.join();
        }
    }
}

fn worker(shared: &Shared) {
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
                q.idle += 1;
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                q.idle -= 1;
                q.wakeups = q.wakeups.saturating_sub(1);
            }
        };
        shared.busy.fetch_add(1, Ordering::Relaxed);
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
        pool.flush();
        let mut events = Events::with_capacity(4);
        let mut batch = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "no completion");
            // As the reactor does: announce the sleep, then poll unless answers are waiting.
            if pool.reactor_sleeping() {
                pool.reactor_awake();
                pool.take_completions(&mut batch);
                if let Some(done) = batch.pop() {
                    return done.outcome;
                }
            }
            poll.poll(&mut events, Some(PATIENCE)).unwrap();
            pool.reactor_awake();
        }
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
