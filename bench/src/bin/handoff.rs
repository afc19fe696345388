//! The price of one hand-off on this machine: a thread wakes another, which wakes it back,
//! the two wake-ups that every reactor → worker → reactor round pays and nginx does not.
//!
//!     cd bench && cargo run --release --bin handoff [ROUNDS]
//!
//! Two threads ping-pong through a `Mutex` and `Condvar` (futex wake-ups, as the worker pool
//! does), ROUNDS round trips per trial (default 100,000), 5 trials per placement, medians:
//! - unpinned: where the scheduler puts them;
//! - one CPU: both threads on the same CPU, so a wake-up is a switch on that CPU;
//! - two CPUs: on different CPUs, so every wake-up reaches a sleeping CPU (on a VM without
//!   guest halt-polling, a halt exit and an interrupt through the host).
//!
//! The gap between the last two is what placement costs the server when wrk shares the box.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const TRIALS: usize = 5;

/// Whose turn it is: the pinger waits for `false`, the ponger for `true`.
struct Turn {
    ball: Mutex<bool>,
    moved: Condvar,
}

impl Turn {
    fn hand(&self, to_ponger: bool) {
        *self.ball.lock().unwrap() = to_ponger;
        self.moved.notify_one();
    }

    fn wait(&self, for_ponger: bool) {
        let mut ball = self.ball.lock().unwrap();
        while *ball != for_ponger {
            ball = self.moved.wait(ball).unwrap();
        }
    }
}

/// Pins the calling thread to `cpu`; `None` leaves it where it is allowed to run.
fn pin(cpu: Option<usize>) -> std::io::Result<()> {
    match cpu {
        Some(cpu) => set_affinity(&[cpu]),
        None => Ok(()),
    }
}

/// Lets the calling thread run on `cpus` only.
fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain bits; CPU_ZERO/CPU_SET only write inside it.
    let r = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The CPUs this process was allowed at start (read once, before any pinning).
fn allowed_cpus() -> &'static [usize] {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        // SAFETY: as in `set_affinity`; sched_getaffinity fills the set it is given.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    })
}

/// One trial: the mean round trip over `rounds`. Both sides play even when pinning failed
/// (so neither waits forever for the other), and the failure is reported after.
fn trial(rounds: u32, pinger: Option<usize>, ponger: Option<usize>) -> std::io::Result<Duration> {
    let turn = Arc::new(Turn {
        ball: Mutex::new(false),
        moved: Condvar::new(),
    });
    let other = Arc::clone(&turn);
    let ponger = std::thread::spawn(move || -> std::io::Result<()> {
        let pinned = pin(ponger);
        for _ in 0..rounds {
            other.wait(true);
            other.hand(false);
        }
        pinned
    });
    let pinned = pin(pinger);
    let start = Instant::now();
    for _ in 0..rounds {
        turn.hand(true);
        turn.wait(false);
    }
    let round_trip = start.elapsed() / rounds;
    let unpinned = set_affinity(allowed_cpus());
    ponger.join().expect("ponger panicked")?;
    pinned?;
    unpinned?;
    Ok(round_trip)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let rounds: u32 = match std::env::args().nth(1) {
        None => 100_000,
        Some(a) => match a.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("usage: handoff [ROUNDS]   (ROUNDS: a positive integer, default 100000)");
                std::process::exit(2);
            }
        },
    };
    let cpus = allowed_cpus();
    let mut placements: Vec<(&str, Option<usize>, Option<usize>)> = vec![("unpinned", None, None)];
    if let Some(&first) = cpus.first() {
        placements.push(("one CPU", Some(first), Some(first)));
    }
    if let [first, second, ..] = cpus {
        placements.push(("two CPUs", Some(*first), Some(*second)));
    } else {
        eprintln!("only one CPU allowed: the two-CPU placement is skipped");
    }
    println!("round trip = two futex wake-ups; {rounds} rounds x {TRIALS} trials, medians");
    println!("| placement | round trip | per wake-up |");
    println!("|---|---:|---:|");
    for (name, a, b) in placements {
        let mut runs = Vec::with_capacity(TRIALS);
        for _ in 0..TRIALS {
            match trial(rounds, a, b) {
                Ok(d) => runs.push(d),
                Err(e) => {
                    eprintln!("{name}: cannot pin: {e}");
                    break;
                }
            }
        }
        if runs.len() == TRIALS {
            let rt = median(runs);
            println!(
                "| {name} | {:.2} µs | {:.2} µs |",
                micros(rt),
                micros(rt) / 2.0
            );
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
