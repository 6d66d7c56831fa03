//! `with_failover` against real loopback sockets on a throw-away glommio executor.

use super::{with_failover, Connection, FailoverError};
use crate::origin::pool::OriginPool;
use glommio::{LocalExecutorBuilder, Placement};
use std::cell::Cell;
use std::future::Future;
use std::net::TcpListener;

fn on_executor<Fut: Future<Output = ()> + 'static>(test: impl FnOnce() -> Fut + Send + 'static) {
    LocalExecutorBuilder::new(Placement::Unbound)
        .io_memory(512 * 1024)
        .spawn(test)
        .expect("executor")
        .join()
        .expect("test ran");
}

/// A port nothing listens on: bound, then closed.
fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn a_target_that_refuses_connections_is_skipped_and_the_next_one_exchanges() {
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_port = live.local_addr().expect("addr").port();
    let dead = dead_port();
    on_executor(move || async move {
        let _live = live;
        let pool = OriginPool::new(8, None);
        let targets = [ep(dead), ep(live_port)];
        let result = with_failover(
            &pool,
            &targets,
            Connection::Pooled,
            |_: &()| false,
            async |_, index| Ok::<usize, ()>(index),
        )
        .await;
        let (value, _origin, index) = result.expect("the second target connects");
        assert_eq!((value, index), (1, 1));

        let only_dead = [ep(dead)];
        let result = with_failover(
            &pool,
            &only_dead,
            Connection::Fresh,
            |_: &()| false,
            async |_, _| Ok::<(), ()>(()),
        )
        .await;
        match result {
            Err(FailoverError::ConnectFailed { tried }) => {
                assert_eq!(tried, format!("127.0.0.1:{dead}"))
            }
            other => panic!("want ConnectFailed, got {other:?}"),
        }
    });
}

#[test]
fn a_failed_exchange_on_a_reused_connection_is_retried_once_fresh_and_never_on_another_target() {
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = live.local_addr().expect("addr").port();
    on_executor(move || async move {
        let _live = live;
        let pool = OriginPool::new(8, None);
        let idle = pool.connect_fresh(&ep(port)).await.expect("connect");
        pool.put(&ep(port), idle);
        let targets = [ep(port), ep(port)];
        let calls = Cell::new(Vec::new());
        let result = with_failover(
            &pool,
            &targets,
            Connection::Pooled,
            |_: &&str| true,
            async |origin, index| {
                let mut seen = calls.take();
                seen.push((origin.reused, index));
                calls.set(seen);
                Err::<(), &str>("dead")
            },
        )
        .await;
        assert_eq!(
            calls.take(),
            [(true, 0), (false, 0)],
            "reused, then fresh, same target"
        );
        assert!(matches!(
            result,
            Err(FailoverError::Exchange { error: "dead", .. })
        ));

        let no_retry = with_failover(
            &pool,
            &targets,
            Connection::Fresh,
            |_: &&str| true,
            async |origin, _| {
                assert!(!origin.reused);
                Err::<(), &str>("refused")
            },
        )
        .await;
        assert!(matches!(
            no_retry,
            Err(FailoverError::Exchange {
                error: "refused",
                ..
            })
        ));
    });
}

/// A plain endpoint on loopback.
fn ep(port: u16) -> crate::origin::endpoint::Endpoint {
    crate::origin::endpoint::Endpoint::plain("127.0.0.1", port)
}
