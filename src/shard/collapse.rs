//! Collapse: identical origin requests running at the same moment on one shard share one
//! exchange and its answer.
//!
//! Owns: the registry of requests in flight, keyed by their exact bytes, and handing the
//! leader's result to every waiter.
//! Must not: decide what counts as identical (the caller builds the key from the bytes it
//! sends, so two clients never share an answer meant for a different request) or talk to
//! origins itself.
//! Invariants: a waiter never waits forever: when the leading task is dropped (its client
//! left), its waiters get the `abandoned` value and one of them takes over.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Requests in flight on this shard, keyed by their bytes, each with its eventual result.
#[derive(Debug)]
pub struct Collapse<V> {
    in_flight: RefCell<HashMap<Vec<u8>, Rc<Shared<V>>>>,
}

impl<V> Default for Collapse<V> {
    fn default() -> Collapse<V> {
        Collapse {
            in_flight: RefCell::default(),
        }
    }
}

#[derive(Debug)]
struct Shared<V> {
    result: RefCell<Option<V>>,
    waiters: RefCell<Vec<Waker>>,
}

/// Completes a collapsed request when dropped: with its result, or `abandoned` when the
/// leading task was cancelled.
struct Leader<'a, V> {
    registry: &'a Collapse<V>,
    key: Vec<u8>,
    shared: Rc<Shared<V>>,
    abandoned: Option<V>,
}

impl<V> Drop for Leader<'_, V> {
    fn drop(&mut self) {
        let mut result = self.shared.result.borrow_mut();
        if result.is_none() {
            *result = self.abandoned.take();
        }
        drop(result);
        self.registry.in_flight.borrow_mut().remove(&self.key);
        for waker in self.shared.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

impl<V: Clone> Collapse<V> {
    /// The result of the request `key`: an identical one's already in flight, or `work`'s.
    /// A result for which `is_abandoned` holds means the leader gave up; a waiter then
    /// starts over (and may lead).
    pub async fn run<F: Future<Output = V>>(
        &self,
        key: Vec<u8>,
        abandoned: V,
        is_abandoned: impl Fn(&V) -> bool,
        work: impl FnOnce() -> F,
    ) -> V {
        loop {
            let existing = self.in_flight.borrow().get(&key).cloned();
            let Some(shared) = existing else {
                break;
            };
            let result = wait_for(&shared).await;
            if !is_abandoned(&result) {
                return result;
            }
        }
        let shared = Rc::new(Shared {
            result: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
        });
        self.in_flight
            .borrow_mut()
            .insert(key.clone(), Rc::clone(&shared));
        let leader = Leader {
            registry: self,
            key,
            shared: Rc::clone(&shared),
            abandoned: Some(abandoned),
        };
        let result = work().await;
        *shared.result.borrow_mut() = Some(result.clone());
        drop(leader);
        result
    }

    /// How many distinct requests are in flight.
    pub fn len(&self) -> usize {
        self.in_flight.borrow().len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn wait_for<V: Clone>(shared: &Shared<V>) -> V {
    std::future::poll_fn(|cx| match shared.result.borrow().as_ref() {
        Some(result) => Poll::Ready(result.clone()),
        None => {
            shared.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::{block_on, or, poll_once};
    use std::cell::Cell;

    #[test]
    fn identical_requests_share_one_run_and_different_ones_do_not() {
        let registry = Collapse::<u32>::default();
        let runs = Cell::new(0);
        let gate = Rc::new(RefCell::new(false));
        let work = |value: u32| {
            let gate = Rc::clone(&gate);
            let runs = &runs;
            move || async move {
                runs.set(runs.get() + 1);
                std::future::poll_fn(|_| {
                    if *gate.borrow() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                value
            }
        };
        block_on(async {
            let mut a = Box::pin(registry.run(b"k".to_vec(), 0, |v| *v == 0, work(7)));
            let mut b = Box::pin(registry.run(b"k".to_vec(), 0, |v| *v == 0, work(8)));
            let mut c = Box::pin(registry.run(b"other".to_vec(), 0, |v| *v == 0, work(9)));
            assert!(poll_once(&mut a).await.is_none());
            assert!(poll_once(&mut b).await.is_none());
            assert!(poll_once(&mut c).await.is_none());
            assert_eq!((runs.get(), registry.len()), (2, 2), "k once, other once");
            *gate.borrow_mut() = true;
            assert_eq!(a.await, 7);
            assert_eq!(b.await, 7, "the waiter gets the leader's answer");
            assert_eq!(c.await, 9);
            assert!(registry.is_empty());
        });
    }

    #[test]
    fn a_dropped_leader_hands_over_to_a_waiter() {
        let registry = Collapse::<u32>::default();
        block_on(async {
            let never = || async { std::future::pending::<u32>().await };
            let mut leader = Box::pin(registry.run(b"k".to_vec(), 0, |v| *v == 0, never));
            let mut waiter = Box::pin(registry.run(b"k".to_vec(), 0, |v| *v == 0, || async { 5 }));
            assert!(poll_once(&mut leader).await.is_none());
            assert!(poll_once(&mut waiter).await.is_none());
            drop(leader);
            let got = or(waiter, async { 0 }).await;
            assert_eq!(got, 5, "the waiter took over and ran its own work");
            assert!(registry.is_empty());
        });
    }
}
