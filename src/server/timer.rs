//! Deadlines of the connections: a min-heap owned by the reactor; `next_deadline()` is the poll
//! timeout.
//!
//! Owns ordering deadlines only. It does not know what a deadline means (each `Conn` says which
//! deadline it runs under, `Conn::deadline`) and never cancels: a connection that moves on
//! simply schedules its new deadline, and an entry that no longer matches the connection's
//! current one (closed, slot reused — the serial differs — or a different deadline) is dropped
//! when it surfaces, as a stale completion is. The heap is rebuilt when stale entries outnumber
//! live ones, so its size stays proportional to the open connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::time::Instant;

/// Which timeout a deadline enforces (SERVER.md, the `--*-timeout` rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// A request head, total, from its first byte (from accept for the first request).
    Header,
    /// A request body, total, from the end of the head or the `100 Continue`.
    Body,
    /// Between a response and the next request.
    Idle,
    /// No write progress.
    Write,
    /// The lingering close's discard window.
    Linger,
}

impl fmt::Display for TimerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimerKind::Header => "header timeout",
            TimerKind::Body => "body timeout",
            TimerKind::Idle => "idle timeout",
            TimerKind::Write => "write timeout",
            TimerKind::Linger => "lingering close",
        })
    }
}

/// One scheduled deadline of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    /// First, so the derived order is by time.
    pub at: Instant,
    /// The connection's slab key…
    pub key: usize,
    /// …and serial, so a deadline of a closed connection never touches the slot's next tenant.
    pub serial: u64,
    pub kind: TimerKind,
}

/// The reactor's deadlines, earliest first.
#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Deadline>>,
}

impl Timers {
    pub fn schedule(&mut self, d: Deadline) {
        self.heap.push(Reverse(d));
    }

    /// The earliest deadline, stale or not (a stale one only costs an early wake-up).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    /// Moves every deadline at or before `now` into `into`.
    pub fn expired(&mut self, now: Instant, into: &mut Vec<Deadline>) {
        while let Some(Reverse(d)) = self.heap.peek() {
            if d.at > now {
                break;
            }
            into.push(*d);
            self.heap.pop();
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Keeps only the deadlines `live` says are current (used when stale entries pile up).
    pub fn retain(&mut self, live: impl Fn(&Deadline) -> bool) {
        self.heap.retain(|Reverse(d)| live(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_and_only_expired() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        for (ms, key) in [(30, 3), (10, 1), (20, 2), (40, 4)] {
            timers.schedule(Deadline {
                at: t0 + Duration::from_millis(ms),
                key,
                serial: key as u64,
                kind: TimerKind::Idle,
            });
        }
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(10)));
        let mut out = Vec::new();
        timers.expired(t0 + Duration::from_millis(25), &mut out);
        assert_eq!(out.iter().map(|d| d.key).collect::<Vec<_>>(), [1, 2]);
        timers.retain(|d| d.key != 3);
        assert_eq!(timers.len(), 1);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(40)));
    }
}
