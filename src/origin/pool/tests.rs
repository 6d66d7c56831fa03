//! `OriginPool` against real loopback sockets on a throw-away glommio executor: the count of
//! open origin sockets, eviction of idle ones at the bound, and the refusal to reuse a pooled
//! connection on which the origin wrote while it was idle.

use super::{ConnectError, OriginPool};
use glommio::{LocalExecutorBuilder, Placement};
use std::future::Future;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::rc::Rc;
use std::time::Duration;

/// Runs `test` on a small executor of its own, with a loopback listener as the origin.
fn with_origin<F, Fut>(test: F)
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(512 * 1024)
        .spawn(move || test(listener))
        .expect("executor")
        .join()
        .expect("test ran");
}

fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("local_addr").port()
}

/// The origin's side of the connection accepted most recently.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.accept().expect("accept").0
}

#[test]
fn at_the_bound_an_idle_connection_is_closed_for_a_new_one_and_a_busy_shard_is_refused() {
    with_origin(|listener| async move {
        let pool = OriginPool::new(2, None).with_slot_wait(Duration::from_millis(50));
        let port = port(&listener);
        let a = pool.connect_fresh(&ep(port)).await.expect("a");
        let b = pool.connect_fresh(&ep(port)).await.expect("b");
        assert_eq!(pool.open(), 2);
        let refused = pool.connect_fresh(&ep(port)).await;
        assert!(matches!(
            refused,
            Err(ConnectError::Exhausted { open_max: 2 })
        ));

        pool.put(&ep(port), a);
        let c = pool.connect_fresh(&ep(port)).await.expect("c");
        assert_eq!(pool.open(), 2, "the idle one was closed to make room");
        drop((b, c));
        assert_eq!(pool.open(), 0);
    });
}

#[test]
fn at_the_bound_a_request_waits_in_line_and_takes_the_slot_of_a_connection_that_finishes() {
    with_origin(|listener| async move {
        let pool = Rc::new(OriginPool::new(1, None).with_slot_wait(Duration::from_secs(10)));
        let port = port(&listener);
        let busy = pool.connect_fresh(&ep(port)).await.expect("busy");
        let waiter = {
            let pool = Rc::clone(&pool);
            glommio::spawn_local(async move { pool.connect_fresh(&ep(port)).await })
        };
        glommio::timer::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.open(), 1, "the second request waits");
        // Finishing with the busy connection closes it instead of pooling it: the waiter
        // needs its slot.
        pool.put(&ep(port), busy);
        let second = waiter.await.expect("the waiter got the slot");
        assert!(!second.reused);
        assert_eq!(pool.open(), 1);
        drop(second);
        assert_eq!(pool.open(), 0);
    });
}

#[test]
fn a_pooled_connection_the_origin_wrote_on_while_idle_is_closed_not_reused() {
    with_origin(|listener| async move {
        let (pool, port) = (OriginPool::new(4, None), port(&listener));
        let quiet = pool.connect_fresh(&ep(port)).await.expect("quiet");
        let mut peer = accept(&listener);
        pool.put(&ep(port), quiet);
        let reused = pool.get(&ep(port)).await.expect("reused");
        assert!(reused.reused, "a quiet idle connection is reused");

        pool.put(&ep(port), reused);
        peer.write_all(b"HTTP/1.1 200 OK\r\n").expect("stray bytes");
        glommio::timer::sleep(Duration::from_millis(50)).await;
        let fresh = pool.get(&ep(port)).await.expect("fresh");
        assert!(
            !fresh.reused,
            "the connection with stray bytes was not handed out"
        );
        assert_eq!(pool.open(), 1, "and it was closed");
    });
}

#[test]
fn a_connection_returned_with_bytes_past_its_response_is_closed() {
    with_origin(|listener| async move {
        let (pool, port) = (OriginPool::new(4, None), port(&listener));
        let mut origin = pool.connect_fresh(&ep(port)).await.expect("origin");
        let mut peer = accept(&listener);
        peer.write_all(b"extra").expect("write");
        while origin.buffered().is_empty() {
            origin.fill().await.expect("read");
        }
        pool.put(&ep(port), origin);
        assert_eq!(pool.open(), 0, "not pooled");
    });
}

/// A plain endpoint on loopback.
fn ep(port: u16) -> crate::origin::endpoint::Endpoint {
    crate::origin::endpoint::Endpoint::plain("127.0.0.1", port)
}
