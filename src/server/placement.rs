//! Where the reactor and the workers run (`--colocate`): all on the reactor's CPU while the
//! load is light, spread over every CPU the process may use when it is not.
//!
//! Why: each request is handed from the reactor to a worker and back, and each hand-off wakes a
//! thread. The kernel puts a woken thread on an idle CPU when there is one; on a VM, waking a
//! halted vCPU costs tens of microseconds (37 µs on the machine bench/README measures), several
//! times the request itself. While the reactor mostly waits for its workers (few connections,
//! light handlers), keeping them all on the reactor's CPU makes every wake-up a switch on that
//! CPU. They spread again as soon as the reactor is saturated, the handlers need real CPU, or
//! another process uses that CPU.
//!
//! A governor thread samples the threads' scheduler counters (/proc/self/task/TID/schedstat) and
//! the CPU's busy time (/proc/stat) every [`TICK`] and sets the threads' affinity. What to do is
//! decided by [`Governor::decide`], a pure function of those samples, so it is unit-tested. The
//! reactor and the workers never call into this module: they only find their affinity changed.

use std::fs;
use std::io;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::metrics::Metrics;

/// How often the governor samples and decides: long enough to cost nothing (a few /proc reads),
/// short enough that a new load is placed well within a second or two.
pub const TICK: Duration = Duration::from_millis(500);

/// Fewer hand-offs than this in a tick say nothing about the load: keep the current placement.
const MIN_JOBS: u64 = 50;

/// The reactor is scheduled in (woke from a wait, or was preempted) at least this often per
/// job: it waits on its workers, so the hand-off's wake-ups are on the critical path. Measured
/// on 2 vCPUs with GET /gst/1000: 2.0 at 1 connection, 0.23–0.26 at 10, 0.02–0.04 at 100.
const WAITS_PER_JOB_TO_SHARE: f64 = 0.10;
/// Below this the reactor is rarely idle: it needs a CPU of its own.
const WAITS_PER_JOB_TO_SPREAD: f64 = 0.05;

/// The workers together use at most this much CPU (seconds per second): the handlers are light
/// enough to share a CPU with the reactor. At 10 connections on GET /gst/1000: 0.36–0.39 while
/// spread (much of it the wake-ups themselves), 0.17–0.22 while sharing.
const WORKERS_CPU_TO_SHARE: f64 = 0.5;
/// Above this the handlers need CPU more than they need short hand-offs.
const WORKERS_CPU_TO_SPREAD: f64 = 0.7;

/// Other processes use more than this share of the shared CPU: spread…
const OTHERS_CPU_TO_SPREAD: f64 = 0.25;
/// …and do not share a CPU again for this long, so a neighbour is not chased around.
const HOLD_AFTER_CONTENTION: Duration = Duration::from_secs(30);

/// Where the threads are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every allowed CPU, as at start: the kernel places each thread.
    Spread,
    /// The reactor and all workers on this one CPU.
    Shared(usize),
}

/// Why the threads spread again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The reactor is rarely waiting: it needs its CPU to itself.
    ReactorBusy,
    /// The handlers use more CPU than a shared CPU can spare.
    HandlersHeavy,
    /// Another process uses the shared CPU.
    CpuContended,
}

impl Reason {
    fn describe(self) -> &'static str {
        match self {
            Reason::ReactorBusy => "the reactor is busy",
            Reason::HandlersHeavy => "the handlers need more CPU",
            Reason::CpuContended => "another process uses that CPU",
        }
    }
}

/// What the governor should do after a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Stay,
    Share,
    Spread(Reason),
}

/// One tick's worth of counters, as differences over `wall`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub wall: Duration,
    /// Jobs the workers finished.
    pub jobs: u64,
    /// Times the reactor thread was scheduled in.
    pub reactor_slices: u64,
    /// CPU time of all workers.
    pub workers_cpu: Duration,
    /// CPU time of the whole process, every thread (the log writer too), wherever it ran.
    pub process_cpu: Duration,
    /// Busy time of the shared CPU (only while `Mode::Shared`), all processes.
    pub cpu_busy: Duration,
}

impl Sample {
    fn per_second(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }

    /// Times the reactor was scheduled in per job.
    fn waits_per_job(&self) -> f64 {
        self.reactor_slices as f64 / self.jobs.max(1) as f64
    }

    /// CPU seconds per second of all workers.
    fn workers_cpu(&self) -> f64 {
        self.per_second(self.workers_cpu)
    }

    /// CPU seconds per second that other processes took on the shared CPU. All of our own
    /// time counts as ours, even what ran elsewhere: this may miss a small neighbour, never
    /// mistake our own log writer for one.
    fn others_cpu(&self) -> f64 {
        self.per_second(self.cpu_busy.saturating_sub(self.process_cpu))
    }
}

/// The decision, with the little memory it needs: a verdict must be seen on two ticks in a row,
/// so one odd tick does not move the threads. (A tick that ends as the load stops, while another
/// process starts on the shared CPU, looks like contention for that one tick.)
#[derive(Debug)]
pub struct Governor {
    mode: Mode,
    /// The verdict of the previous tick.
    last: Verdict,
    /// No sharing before this (after contention).
    hold_until: Option<Instant>,
}

impl Default for Governor {
    fn default() -> Governor {
        Governor {
            mode: Mode::Spread,
            last: Verdict::Stay,
            hold_until: None,
        }
    }
}

impl Governor {
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// What the sample says, given the current mode. `now` only for the hold after contention.
    pub fn decide(&mut self, s: &Sample, now: Instant) -> Verdict {
        let raw = self.judge(s, now);
        let verdict = if raw == self.last { raw } else { Verdict::Stay };
        self.last = raw;
        if verdict == Verdict::Spread(Reason::CpuContended) {
            self.hold_until = Some(now + HOLD_AFTER_CONTENTION);
        }
        verdict
    }

    /// The verdict of one sample alone.
    fn judge(&self, s: &Sample, now: Instant) -> Verdict {
        if s.jobs < MIN_JOBS {
            return Verdict::Stay;
        }
        let (waits, workers) = (s.waits_per_job(), s.workers_cpu());
        match self.mode {
            Mode::Spread => {
                let held = self.hold_until.is_some_and(|t| now < t);
                if !held && waits >= WAITS_PER_JOB_TO_SHARE && workers <= WORKERS_CPU_TO_SHARE {
                    Verdict::Share
                } else {
                    Verdict::Stay
                }
            }
            Mode::Shared(_) => {
                if s.others_cpu() > OTHERS_CPU_TO_SPREAD {
                    Verdict::Spread(Reason::CpuContended)
                } else if workers > WORKERS_CPU_TO_SPREAD {
                    Verdict::Spread(Reason::HandlersHeavy)
                } else if waits < WAITS_PER_JOB_TO_SPREAD {
                    Verdict::Spread(Reason::ReactorBusy)
                } else {
                    Verdict::Stay
                }
            }
        }
    }

    /// Records that the threads were moved.
    fn moved(&mut self, to: Mode) {
        self.mode = to;
        self.last = Verdict::Stay;
    }
}

/// A thread's scheduler counters, from /proc/self/task/TID/schedstat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadTimes {
    pub on_cpu: Duration,
    pub slices: u64,
}

/// `schedstat` is "on-CPU ns, run-queue wait ns, timeslices".
pub fn parse_schedstat(text: &str) -> Option<ThreadTimes> {
    let mut f = text.split_ascii_whitespace();
    let on_cpu = f.next()?.parse().ok()?;
    let _waited: u64 = f.next()?.parse().ok()?;
    let slices = f.next()?.parse().ok()?;
    Some(ThreadTimes {
        on_cpu: Duration::from_nanos(on_cpu),
        slices,
    })
}

/// The CPU a thread last ran on: field 39 of /proc/…/stat, counted after the `)` that ends the
/// command name (which may hold spaces and parentheses).
pub fn parse_stat_cpu(text: &str) -> Option<usize> {
    let rest = &text[text.rfind(')')? + 1..];
    // After ')' come field 3 (state) onwards, so field 39 is the 37th.
    rest.split_ascii_whitespace().nth(36)?.parse().ok()
}

/// Busy ticks (user + nice + system) of `cpu` in /proc/stat. Interrupt time is left out: with
/// IRQ time accounting it is not charged to any thread, so it would look like another process.
pub fn parse_cpu_busy_ticks(stat: &str, cpu: usize) -> Option<u64> {
    let label = format!("cpu{cpu}");
    let line = stat
        .lines()
        .find(|l| l.split_ascii_whitespace().next() == Some(label.as_str()))?;
    let mut f = line.split_ascii_whitespace().skip(1);
    let mut busy = 0u64;
    for _ in 0..3 {
        busy = busy.checked_add(f.next()?.parse().ok()?)?;
    }
    Some(busy)
}

/// The CPUs this process may use, or None when it cannot tell.
fn allowed_cpus() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most `size` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
    }
}

fn count_cpus(set: &libc::cpu_set_t) -> usize {
    // SAFETY: reads the set only.
    unsafe { libc::CPU_COUNT(set) as usize }
}

fn only_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; CPU_SET ignores a cpu beyond the set's size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

fn set_affinity(tid: libc::pid_t, set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The calling thread's kernel id, for the governor.
pub fn current_tid() -> libc::pid_t {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// What the governor reads each tick (the threads it places, the count of finished jobs) and
/// whom it tells that the workers share one CPU (the pool, which then lets one take the jobs).
pub struct Threads {
    pub reactor: libc::pid_t,
    pub workers: Vec<libc::pid_t>,
    pub finished_jobs: Box<dyn Fn() -> u64 + Send>,
    pub share_one_cpu: Box<dyn Fn(bool) + Send>,
}

impl Threads {
    fn all(&self) -> impl Iterator<Item = libc::pid_t> + '_ {
        std::iter::once(self.reactor).chain(self.workers.iter().copied())
    }
}

fn read_thread(tid: libc::pid_t, file: &str) -> io::Result<String> {
    fs::read_to_string(format!("/proc/self/task/{tid}/{file}"))
}

fn thread_times(tid: libc::pid_t) -> io::Result<ThreadTimes> {
    let text = read_thread(tid, "schedstat")?;
    parse_schedstat(&text).ok_or_else(|| io::Error::other(format!("unexpected schedstat: {text}")))
}

/// Cumulative counters at one instant; two of them make a `Sample`.
struct Reading {
    at: Instant,
    jobs: u64,
    reactor_slices: u64,
    workers_cpu: Duration,
    process_cpu: Duration,
    /// Busy ticks of the shared CPU, when there is one.
    cpu_busy_ticks: Option<u64>,
}

/// CPU time of all the process's threads so far.
fn process_cpu() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

fn read(threads: &Threads, mode: Mode) -> io::Result<Reading> {
    let reactor_slices = thread_times(threads.reactor)?.slices;
    let mut workers_cpu = Duration::ZERO;
    for &tid in &threads.workers {
        workers_cpu += thread_times(tid)?.on_cpu;
    }
    let cpu_busy_ticks = match mode {
        Mode::Spread => None,
        Mode::Shared(cpu) => parse_cpu_busy_ticks(&fs::read_to_string("/proc/stat")?, cpu),
    };
    Ok(Reading {
        at: Instant::now(),
        jobs: (threads.finished_jobs)(),
        reactor_slices,
        workers_cpu,
        process_cpu: process_cpu()?,
        cpu_busy_ticks,
    })
}

/// The counters' differences; `jiffy` is the length of one /proc/stat tick.
fn sample(before: &Reading, after: &Reading, jiffy: Duration) -> Sample {
    let cpu_busy = match (before.cpu_busy_ticks, after.cpu_busy_ticks) {
        (Some(a), Some(b)) => {
            jiffy.saturating_mul(u32::try_from(b.saturating_sub(a)).unwrap_or(u32::MAX))
        }
        _ => Duration::ZERO,
    };
    Sample {
        wall: after.at.duration_since(before.at),
        jobs: after.jobs.saturating_sub(before.jobs),
        reactor_slices: after.reactor_slices.saturating_sub(before.reactor_slices),
        workers_cpu: after.workers_cpu.saturating_sub(before.workers_cpu),
        process_cpu: after.process_cpu.saturating_sub(before.process_cpu),
        cpu_busy,
    }
}

/// The CPUs the process was allowed at start, once a governor runs.
static ALLOWED: OnceLock<CpuSet> = OnceLock::new();

/// `cpu_set_t` is plain data; this wrapper only lets it live in a static.
#[derive(Clone, Copy)]
struct CpuSet(libc::cpu_set_t);

/// Lets the calling thread run on every CPU the process was allowed at start. For a thread
/// the reactor spawns (a reload), which would otherwise inherit the shared CPU.
pub fn release_current_thread() {
    if let Some(set) = ALLOWED.get() {
        let _ = set_affinity(0, &set.0);
    }
}

/// The running governor thread. Dropping it stops the governor, which spreads the threads on
/// its way out.
pub struct Placement {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Placement {
    /// Starts the governor, or says (at info) why placement stays with the kernel: fewer than
    /// two allowed CPUs, or no scheduler counters to read.
    pub fn start(threads: Threads, metrics: Arc<Metrics>) -> Option<Placement> {
        let Some(allowed) = allowed_cpus() else {
            log::info!("--colocate: cannot read this process's CPUs; placement left to the kernel");
            return None;
        };
        if count_cpus(&allowed) < 2 {
            return None;
        }
        if let Err(e) = thread_times(threads.reactor) {
            log::info!("--colocate: no scheduler counters ({e}); placement left to the kernel");
            return None;
        }
        // SAFETY: sysconf has no preconditions; a failure (-1) or 0 is handled below.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let jiffy = Duration::from_secs_f64(1.0 / if hz > 0 { hz as f64 } else { 100.0 });
        let _ = ALLOWED.set(CpuSet(allowed));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("etamil-placement".into())
            .spawn(move || govern(&threads, &allowed, jiffy, &metrics, &stop2))
            .map_err(|e| log::warn!("--colocate: cannot start its thread: {e}"))
            .ok()?;
        Some(Placement {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        let (flag, cv) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_one();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sleeps one tick; true when asked to stop.
fn wait_tick(stop: &(Mutex<bool>, Condvar)) -> bool {
    let (flag, cv) = stop;
    let guard = flag.lock().unwrap_or_else(|e| e.into_inner());
    let (guard, _) = cv
        .wait_timeout_while(guard, TICK, |stopped| !*stopped)
        .unwrap_or_else(|e| e.into_inner());
    *guard
}

/// Moves every thread to `to`; if sharing fails part-way, puts them all back on `allowed`.
/// The pool is told it shares one CPU only once every thread is there, and that it does not
/// before they spread.
fn apply(threads: &Threads, to: Mode, allowed: &libc::cpu_set_t) -> io::Result<()> {
    match to {
        Mode::Spread => {
            (threads.share_one_cpu)(false);
            threads.all().try_for_each(|tid| set_affinity(tid, allowed))
        }
        Mode::Shared(cpu) => {
            let one = only_cpu(cpu);
            let result = threads.all().try_for_each(|tid| set_affinity(tid, &one));
            match result {
                Ok(()) => (threads.share_one_cpu)(true),
                Err(_) => threads.all().for_each(|tid| {
                    let _ = set_affinity(tid, allowed);
                }),
            }
            result
        }
    }
}

fn govern(
    threads: &Threads,
    allowed: &libc::cpu_set_t,
    jiffy: Duration,
    metrics: &Metrics,
    stop: &(Mutex<bool>, Condvar),
) {
    let mut governor = Governor::default();
    let mut before = read(threads, governor.mode()).ok();
    while !wait_tick(stop) {
        let mode = governor.mode();
        let after = match read(threads, mode) {
            Ok(r) => r,
            // A worker thread gone (shutdown under way) or /proc unreadable: keep quiet now and
            // start again from the next good reading.
            Err(_) => {
                before = None;
                continue;
            }
        };
        let s = before.map(|prev| sample(&prev, &after, jiffy));
        before = Some(after);
        let Some(s) = s else {
            continue;
        };
        let now = Instant::now();
        let verdict = governor.decide(&s, now);
        let to = match verdict {
            Verdict::Stay => continue,
            Verdict::Share => {
                let text = read_thread(threads.reactor, "stat").unwrap_or_default();
                match parse_stat_cpu(&text) {
                    // SAFETY: reads the set only.
                    Some(cpu) if unsafe { libc::CPU_ISSET(cpu, allowed) } => Mode::Shared(cpu),
                    _ => continue,
                }
            }
            Verdict::Spread(_) => Mode::Spread,
        };
        if let Err(e) = apply(threads, to, allowed) {
            log::warn!(
                "--colocate: cannot set thread affinity ({e}); placement left to the kernel"
            );
            metrics.colocated.set(0);
            return;
        }
        let (waits, workers, others) = (s.waits_per_job(), s.workers_cpu(), s.others_cpu());
        match (verdict, to) {
            (Verdict::Spread(reason), _) => log::info!(
                reason = reason.describe(),
                reactor_waits_per_job:% = format_args!("{waits:.2}"),
                workers_cpu:% = format_args!("{workers:.2}"),
                others_cpu:% = format_args!("{others:.2}");
                "reactor and workers spread over their CPUs again"
            ),
            (_, Mode::Shared(cpu)) => log::info!(
                cpu = cpu,
                reactor_waits_per_job:% = format_args!("{waits:.2}"),
                workers_cpu:% = format_args!("{workers:.2}");
                "reactor and workers now share one CPU (light load)"
            ),
            _ => {}
        }
        metrics
            .colocated
            .set(i64::from(matches!(to, Mode::Shared(_))));
        metrics.colocate_moves.inc();
        governor.moved(to);
        // The shared CPU's busy counter starts now.
        before = read(threads, to).ok();
    }
    if governor.mode() != Mode::Spread {
        let _ = apply(threads, Mode::Spread, allowed);
        metrics.colocated.set(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// 500 ms at 10 connections on GET /gst/1000, spread, as measured (bench/README).
    fn ten_connections() -> Sample {
        Sample {
            wall: ms(500),
            jobs: 50_000,
            reactor_slices: 13_000,
            workers_cpu: ms(180),
            process_cpu: ms(515),
            cpu_busy: Duration::ZERO,
        }
    }

    /// …and at 100 connections: the reactor is scheduled in once per 40 jobs.
    fn hundred_connections() -> Sample {
        Sample {
            jobs: 90_000,
            reactor_slices: 2_000,
            workers_cpu: ms(100),
            process_cpu: ms(515),
            ..ten_connections()
        }
    }

    fn shared_governor() -> Governor {
        let mut g = Governor::default();
        g.moved(Mode::Shared(1));
        g
    }

    #[test]
    fn a_light_load_shares_after_two_ticks_in_agreement() {
        let mut g = Governor::default();
        let now = Instant::now();
        assert_eq!(g.decide(&ten_connections(), now), Verdict::Stay);
        assert_eq!(g.decide(&ten_connections(), now), Verdict::Share);
        // One connection: the reactor waits for every request.
        let mut g = Governor::default();
        let one = Sample {
            jobs: 5_000,
            reactor_slices: 10_000,
            workers_cpu: ms(10),
            ..ten_connections()
        };
        g.decide(&one, now);
        assert_eq!(g.decide(&one, now), Verdict::Share);
    }

    #[test]
    fn an_odd_tick_between_two_agreeing_ones_resets_the_count() {
        let mut g = Governor::default();
        let now = Instant::now();
        g.decide(&ten_connections(), now);
        assert_eq!(g.decide(&hundred_connections(), now), Verdict::Stay);
        assert_eq!(g.decide(&ten_connections(), now), Verdict::Stay);
        assert_eq!(g.decide(&ten_connections(), now), Verdict::Share);
    }

    #[test]
    fn a_busy_reactor_heavy_handlers_or_an_idle_server_stay_spread() {
        let now = Instant::now();
        let heavy = Sample {
            workers_cpu: ms(400), // 0.8 CPU
            ..ten_connections()
        };
        let idle = Sample {
            jobs: 10,
            reactor_slices: 20,
            ..ten_connections()
        };
        for s in [hundred_connections(), heavy, idle] {
            let mut g = Governor::default();
            assert_eq!(g.decide(&s, now), Verdict::Stay, "{s:?}");
            assert_eq!(g.decide(&s, now), Verdict::Stay, "{s:?}");
        }
    }

    #[test]
    fn shared_threads_spread_when_the_reactor_or_the_handlers_need_more() {
        let now = Instant::now();
        let busy_cpu = |s: Sample| Sample {
            cpu_busy: s.process_cpu,
            ..s
        };
        let heavy = busy_cpu(Sample {
            workers_cpu: ms(400),
            process_cpu: ms(490),
            ..ten_connections()
        });
        for (s, reason) in [
            (busy_cpu(hundred_connections()), Reason::ReactorBusy),
            (heavy, Reason::HandlersHeavy),
        ] {
            let mut g = shared_governor();
            assert_eq!(g.decide(&s, now), Verdict::Stay);
            assert_eq!(g.decide(&s, now), Verdict::Spread(reason));
        }
        // The light load itself keeps them together.
        let mut g = shared_governor();
        for _ in 0..3 {
            assert_eq!(g.decide(&busy_cpu(ten_connections()), now), Verdict::Stay);
        }
    }

    #[test]
    fn another_process_on_the_shared_cpu_spreads_and_holds() {
        let now = Instant::now();
        let mut g = shared_governor();
        let s = Sample {
            // Ours half of the CPU, the CPU fully busy: a neighbour has the other half.
            workers_cpu: ms(90),
            process_cpu: ms(250),
            cpu_busy: ms(500),
            ..ten_connections()
        };
        // One such tick, then an idle one (our load stopped as the other began): no move.
        let idle = Sample { jobs: 0, ..s };
        assert_eq!(g.decide(&s, now), Verdict::Stay);
        assert_eq!(g.decide(&idle, now), Verdict::Stay);
        assert_eq!(g.decide(&s, now), Verdict::Stay);
        assert_eq!(g.decide(&s, now), Verdict::Spread(Reason::CpuContended));
        g.moved(Mode::Spread);
        for _ in 0..3 {
            assert_eq!(g.decide(&ten_connections(), now + ms(1000)), Verdict::Stay);
        }
        let later = now + HOLD_AFTER_CONTENTION + ms(1);
        assert_eq!(g.decide(&ten_connections(), later), Verdict::Stay);
        assert_eq!(g.decide(&ten_connections(), later), Verdict::Share);
    }

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(
            parse_schedstat("149229 12 7\n"),
            Some(ThreadTimes {
                on_cpu: Duration::from_nanos(149229),
                slices: 7
            })
        );
        assert_eq!(parse_schedstat("1 2"), None);
        assert_eq!(parse_schedstat("x 2 3"), None);

        let mut stat = String::from("4242 (etamil (wo) rk) S");
        for n in 4..=38 {
            stat.push_str(&format!(" {n}"));
        }
        stat.push_str(" 1 0 0\n");
        assert_eq!(parse_stat_cpu(&stat), Some(1));
        assert_eq!(parse_stat_cpu("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu("no parenthesis"), None);

        let proc_stat = "cpu  10 1 5 100 0 0 7 0 0 0\ncpu0 3 0 2 50 0 0 3 0 0 0\ncpu1 7 1 3 50 0 0 4 0 0 0\nintr 1 2\n";
        assert_eq!(parse_cpu_busy_ticks(proc_stat, 0), Some(5));
        assert_eq!(parse_cpu_busy_ticks(proc_stat, 1), Some(11));
        assert_eq!(parse_cpu_busy_ticks(proc_stat, 2), None);
        assert_eq!(parse_cpu_busy_ticks("cpu1 x 1 1", 1), None);
    }

    #[test]
    fn the_real_proc_files_of_this_thread_parse() {
        let tid = current_tid();
        if let Ok(text) = read_thread(tid, "schedstat") {
            assert!(parse_schedstat(&text).is_some(), "{text}");
        }
        let stat = read_thread(tid, "stat").unwrap();
        let cpu = parse_stat_cpu(&stat).unwrap();
        let proc_stat = fs::read_to_string("/proc/stat").unwrap();
        assert!(parse_cpu_busy_ticks(&proc_stat, cpu).is_some());
    }
}
