//! The self-pipe: SIGTERM, SIGINT and SIGHUP become bytes the reactor reads from a pipe it polls.
//!
//! Owns installing the handlers and the pipe; the crate's only `unsafe` lives here. The handler
//! does one async-signal-safe thing — it writes the signal's number as one byte to a
//! `pipe2(O_NONBLOCK | O_CLOEXEC)` pipe, saving and restoring `errno` around it — and the
//! reactor drains the pipe before acting (signal-hook's `low_level/pipe.rs`). It does not
//! decide what a signal means (reactor.rs does). Other threads wake the reactor through the same
//! pipe with a `Notifier` (a reload that finished), so the loop has one source of such news.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The byte a finished reload writes (no signal has this number).
pub const RELOADED: u8 = 0xff;

/// The pipe's write end for the handler; -1 while no `SignalPipe` is installed.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let saved = Errno::last_raw();
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` outlives the call and the length is 1.
        // A full pipe (EAGAIN) loses this byte, which is fine: the ones already in the pipe
        // wake the reactor, and a pipe of 64 KiB of pending signals says enough.
        unsafe {
            libc::write(fd, std::ptr::addr_of!(byte).cast(), 1);
        }
    }
    Errno::set_raw(saved);
}

/// What arrived on the pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    Signal(Signal),
    Reloaded,
}

/// The read end, registered in the reactor's `Poll`, and the write end the handler uses.
pub struct SignalPipe {
    read: OwnedFd,
    /// Kept open for the handler (which knows it only as `WRITE_FD`) and the notifiers.
    write: Arc<OwnedFd>,
}

/// Wakes the reactor from another thread with a byte on the signal pipe.
#[derive(Clone)]
pub struct Notifier(Arc<OwnedFd>);

impl Notifier {
    pub fn notify(&self, byte: u8) {
        if let Err(e) = nix::unistd::write(&*self.0, &[byte]) {
            log::error!("cannot notify the reactor: {e}");
        }
    }
}

impl SignalPipe {
    /// Creates the pipe and installs the handlers for SIGTERM, SIGINT and SIGHUP.
    pub fn install() -> io::Result<SignalPipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        WRITE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        // SA_RESTART: other threads' blocking calls (the workers' condvar, log writes) resume.
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            // SAFETY: `on_signal` only calls async-signal-safe functions (write(2) and errno
            // accessors) and reads an atomic; it touches no lock, allocation or Rust state.
            unsafe { sigaction(signal, &action) }?;
        }
        Ok(SignalPipe {
            read,
            write: Arc::new(write),
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    pub fn notifier(&self) -> Notifier {
        Notifier(Arc::clone(&self.write))
    }

    /// Reads every pending byte (the pipe is edge-triggered in the Poll, so until EAGAIN).
    pub fn drain(&self, into: &mut Vec<Note>) {
        let mut buf = [0u8; 64];
        loop {
            match nix::unistd::read(self.read.as_raw_fd(), &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) => return,
                Ok(n) => {
                    for &b in &buf[..n] {
                        if b == RELOADED {
                            into.push(Note::Reloaded);
                        } else if let Ok(s) = Signal::try_from(libc::c_int::from(b)) {
                            into.push(Note::Signal(s));
                        }
                    }
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    log::error!("signal pipe: {e}");
                    return;
                }
            }
        }
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        // The handler stays installed; it must not write to a descriptor number reused later.
        WRITE_FD.store(-1, Ordering::SeqCst);
    }
}
