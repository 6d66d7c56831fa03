//! Delivery: a list of sends, each one buffer to one subscriber, made either as a loop of
//! non-blocking send(2) calls or as batched IORING_OP_SEND submissions.
//!
//! Owns: the io_uring (in `uring` mode) and the per-delivery tally.
//! Must not: close connections (it returns the ones that failed; the server closes and counts
//! them), or wait on a socket: one slow subscriber never delays the next.
//! Invariants: a connection with pending bytes gets the buffer queued behind them, never sent
//! ahead of them; a send whose subscriber closed before the delivery is skipped; in `uring`
//! mode every buffer and every socket with a send in flight stay alive until that send's
//! completion is reaped, which happens before `deliver` returns.

use super::conns::{Conn, Conns, Key, Role, WriteError, Written};
use super::sys::{Epoll, SEND_FLAGS};
use io_uring::{opcode, types, IoUring};
use std::io;
use std::os::fd::AsRawFd;

/// Sends per io_uring submission when `--batch` is not given.
pub(super) const BATCH_DEFAULT: usize = 256;
/// The kernel's largest submission queue (IORING_MAX_ENTRIES).
pub(super) const BATCH_MAX: usize = 32768;

/// One buffer for one subscriber: `items` published items, encoded back to back.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outgoing<'a> {
    pub key: Key,
    pub chunks: &'a [u8],
    pub items: u64,
}

/// What one delivery did, per subscriber.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// Subscribers whose socket took the whole chunk at once.
    pub whole: u64,
    /// Subscribers whose socket took part of it; the rest is pending.
    pub partial: u64,
    /// Subscribers that got the chunk queued (EAGAIN, or bytes already pending).
    pub queued: u64,
    /// Items that reached a socket or its pending bytes: one per item and subscriber.
    pub deliveries: u64,
    /// Subscribers whose write failed; the server closes them.
    pub failed: Vec<(Key, WriteError)>,
}

impl Tally {
    fn record(&mut self, send: &Outgoing, result: Result<Written, WriteError>) {
        match result {
            Ok(Written::Whole) => self.whole += 1,
            Ok(Written::Partial) => self.partial += 1,
            Ok(Written::Queued) => self.queued += 1,
            Err(e) => return self.failed.push((send.key, e)),
        }
        self.deliveries += send.items;
    }
}

/// How chunks reach the sockets (`--mode`).
#[derive(Debug)]
pub(super) enum Delivery {
    /// One non-blocking send(2) per subscriber.
    Send,
    /// One IORING_OP_SEND per subscriber, submitted in batches.
    Uring(Box<UringSender>),
}

impl Delivery {
    /// Makes every send in `sends`. A subscriber appears at most once in `sends` (the server
    /// gives each channel one buffer per pass, and each subscriber holds one channel), so two
    /// sends to one socket are never in flight together.
    pub(super) fn deliver(
        &mut self,
        sends: &[Outgoing],
        conns: &mut Conns,
        epoll: &Epoll,
    ) -> io::Result<Tally> {
        let mut tally = Tally::default();
        match self {
            Delivery::Send => deliver_send(sends, conns, epoll, &mut tally),
            Delivery::Uring(sender) => sender.deliver(sends, conns, epoll, &mut tally)?,
        }
        Ok(tally)
    }
}

/// The subscriber a send is for, if it is still open.
fn subscriber<'c>(conns: &'c mut Conns, send: &Outgoing) -> Option<&'c mut Conn> {
    conns
        .get_mut(send.key)
        .filter(|conn| conn.role == Role::Subscriber)
}

fn deliver_send(sends: &[Outgoing], conns: &mut Conns, epoll: &Epoll, tally: &mut Tally) {
    for send in sends {
        if let Some(conn) = subscriber(conns, send) {
            tally.record(send, conn.write(send.chunks, epoll, send.key));
        }
    }
}

/// A ring used only for sends, drained completely by every delivery.
pub(super) struct UringSender {
    ring: IoUring,
    batch: usize,
    in_flight: usize,
}

impl std::fmt::Debug for UringSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringSender")
            .field("batch", &self.batch)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl UringSender {
    /// A ring with room for `batch` sends. Single-issuer and cooperative task running cut the
    /// kernel's cross-CPU work; kernels without them (before 6.0) get a plain ring.
    pub(super) fn new(batch: usize) -> io::Result<UringSender> {
        debug_assert!((1..=BATCH_MAX).contains(&batch));
        let entries = u32::try_from(batch.next_power_of_two()).expect("batch is at most 32768");
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        Ok(UringSender {
            ring,
            batch,
            in_flight: 0,
        })
    }

    fn deliver(
        &mut self,
        sends: &[Outgoing],
        conns: &mut Conns,
        epoll: &Epoll,
        tally: &mut Tally,
    ) -> io::Result<()> {
        for (index, send) in sends.iter().enumerate() {
            let Some(conn) = subscriber(conns, send) else {
                continue;
            };
            if conn.has_pending() {
                tally.record(send, conn.write(send.chunks, epoll, send.key));
                continue;
            }
            let len = u32::try_from(send.chunks.len())
                .map_err(|_| io::Error::other("buffer over 4 GiB"))?;
            let entry =
                opcode::Send::new(types::Fd(conn.fd.as_raw_fd()), send.chunks.as_ptr(), len)
                    .flags(SEND_FLAGS)
                    .build()
                    .user_data(index as u64);
            // SAFETY: the entry points at `send.chunks` and at `conn`'s socket. Both outlive the
            // send: `sends` and its buffers are borrowed for this whole call, which reaps every
            // completion before it returns, and no connection is removed while a delivery runs.
            unsafe { self.ring.submission().push(&entry) }
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            self.in_flight += 1;
            if self.in_flight == self.batch {
                self.complete(sends, conns, epoll, tally)?;
            }
        }
        self.complete(sends, conns, epoll, tally)
    }

    /// Submits what is queued and reaps until no send is in flight.
    fn complete(
        &mut self,
        sends: &[Outgoing],
        conns: &mut Conns,
        epoll: &Epoll,
        tally: &mut Tally,
    ) -> io::Result<()> {
        while self.in_flight > 0 {
            match self.ring.submit_and_wait(self.in_flight) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EBUSY: completions must be reaped before more can be submitted; reap below.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => return Err(e),
            }
            for cqe in self.ring.completion() {
                self.in_flight -= 1;
                let send = &sends[cqe.user_data() as usize];
                let conn = conns
                    .get_mut(send.key)
                    .expect("a subscriber with a send in flight stays open until it completes");
                let sent = match cqe.result() {
                    n if n >= 0 => Ok(n as usize),
                    errno => Err(io::Error::from_raw_os_error(-errno)),
                };
                tally.record(send, conn.on_sent(send.chunks, sent, epoll, send.key));
            }
        }
        Ok(())
    }
}
