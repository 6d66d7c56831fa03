//! Process start-up and lifetime: shards, the router, signals, route reloads.
//!
//! Owns: the threads. One pinned glommio executor per shard, one unpinned executor for the
//! publish endpoint and router, and one plain thread that waits for signals and watches the
//! routes file.
//! Must not: contain request or delivery logic.

use crate::config::{load_routes, Config, RoutesSource};
use crate::limits::LISTEN_BACKLOG;
use crate::router::inbox::{router_inbox, shard_inbox};
use crate::router::{SequencerConfig, ShardId};
use crate::shard::publish_conn::{self, PublishService};
use crate::shard::{sys, Control, ShardContext};
use crate::stats::ShardCounters;
use glommio::{LocalExecutorBuilder, Placement};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Descriptors kept back from the connection budget for listeners, origins and logs.
const RESERVED_FDS: u64 = 256;
/// io_uring buffer memory per executor; ringpin does no file DMA, so keep it small.
const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;

/// Why ringpin could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration or routes are invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// An executor could not start.
    #[error("cannot start executor {name}: {reason}")]
    Executor {
        /// The executor's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// More shards were asked for than the router's shard sets hold.
    #[error("--shards {shards} is over the maximum of {max}")]
    TooManyShards {
        /// Shards asked for.
        shards: usize,
        /// The maximum.
        max: usize,
    },
    /// The signal mask or a shard inbox could not be set up.
    #[error("cannot set up signals or inboxes: {0}")]
    Signals(std::io::Error),
}

/// Runs ringpin until SIGTERM/SIGINT.
pub fn run(config: Config) -> Result<(), StartError> {
    sys::block_signals().map_err(StartError::Signals)?;
    let nofile = match sys::raise_nofile_limit() {
        Ok(limit) => limit,
        Err(err) => {
            log::warn!("cannot read RLIMIT_NOFILE: {err}");
            1024
        }
    };
    let (routes, warnings) = load_routes(&config.routes_source)?;
    for warning in &warnings {
        log::warn!("routes line {}: {}", warning.line, warning.message);
    }
    log::info!("routes loaded with {} entries", routes.len());
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let shard_count = match config.shards {
        0 => cores.len().max(1),
        n => n,
    };
    if shard_count > crate::router::channel_map::SHARDS_MAX {
        return Err(StartError::TooManyShards {
            shards: shard_count,
            max: crate::router::channel_map::SHARDS_MAX,
        });
    }
    let capacity = nofile.saturating_sub(RESERVED_FDS);
    log::info!(
        "RLIMIT_NOFILE={nofile}: capacity {capacity} client connections over {shard_count} shards"
    );
    let control = Arc::new(Control::new(routes).with_peer_limit(config.connections_per_ip_max));
    let config = Arc::new(config);
    let (router_tx, router_rx) = router_inbox();
    let publish_fd =
        sys::bind_listener(config.publish_listen, false, LISTEN_BACKLOG).map_err(|source| {
            StartError::Bind {
                addr: config.publish_listen,
                source,
            }
        })?;
    let mut handles = Vec::new();
    let mut senders = Vec::new();
    let mut all_counters = Vec::new();
    for index in 0..shard_count {
        let mut fds = Vec::new();
        for &addr in &config.listen {
            let fd = sys::bind_listener(addr, true, LISTEN_BACKLOG)
                .map_err(|source| StartError::Bind { addr, source })?;
            fds.push(fd);
        }
        let (tx, rx) = shard_inbox().map_err(StartError::Signals)?;
        senders.push(tx);
        let counters = Arc::new(ShardCounters::default());
        all_counters.push(Arc::clone(&counters));
        let placement = match cores.get(index % cores.len().max(1)) {
            Some(core) if config.pin_shards && shard_count <= cores.len() => {
                Placement::Fixed(core.id)
            }
            _ => Placement::Unbound,
        };
        let (config, control, router_tx) =
            (Arc::clone(&config), Arc::clone(&control), router_tx.clone());
        let per_shard = (capacity / shard_count as u64) as usize;
        let name = format!("ringpin-shard-{index}");
        let handle = LocalExecutorBuilder::new(placement)
            .name(&name)
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .spawn(move || async move {
                let id = ShardId(index as u16);
                let ctx = ShardContext::new(id, config, control, router_tx, counters, per_shard);
                crate::shard::run(Rc::new(ctx), fds, rx).await;
            })
            .map_err(|e| StartError::Executor {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        handles.push(handle);
    }
    drop(router_tx);
    let router_control = Arc::clone(&control);
    let sequencing = SequencerConfig {
        message_wait: config.message_wait,
        id_cache_ttl: config.id_cache_ttl,
    };
    let router = LocalExecutorBuilder::new(Placement::Unbound)
        .name("ringpin-router")
        .io_memory(EXECUTOR_IO_MEMORY_BYTES)
        .spawn(move || async move {
            let service = Rc::new(PublishService::new(
                router_rx,
                senders,
                all_counters,
                sequencing,
            ));
            let listener = sys::glommio_listener(publish_fd);
            let accept_service = Rc::clone(&service);
            glommio::spawn_local(async move {
                let mut backoff = crate::shard::listener::AcceptBackoff::default();
                loop {
                    match listener.accept().await {
                        Ok(stream) => {
                            backoff.on_success();
                            glommio::spawn_local(publish_conn::serve(
                                Rc::clone(&accept_service),
                                stream,
                            ))
                            .detach();
                        }
                        Err(err) => {
                            let pause = backoff.on_failure();
                            crate::log_limited!(
                                Warn,
                                "publish accept failed: {err}; retrying in {pause:?}"
                            );
                            glommio::timer::sleep(pause).await;
                        }
                    }
                }
            })
            .detach();
            while !router_control.is_shutting_down() {
                glommio::timer::sleep(service.next_sleep()).await;
                service.on_tick().await;
            }
        })
        .map_err(|e| StartError::Executor {
            name: "ringpin-router".into(),
            reason: e.to_string(),
        })?;
    log::info!(
        "ringpin {} listening on {} (publish on {}), {shard_count} shards",
        env!("CARGO_PKG_VERSION"),
        config
            .listen
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        config.publish_listen
    );
    watch_signals_and_routes(&config, &control);
    for handle in handles {
        let _ = handle.join();
    }
    let _ = router.join();
    log::info!("ringpin stopped");
    Ok(())
}

/// How often the signal thread looks at the routes file.
const ROUTES_POLL: Duration = Duration::from_millis(500);

/// What identifies one version of the routes file: modification time, length, inode.
type FileSignature = Option<(SystemTime, u64, u64)>;

fn file_signature(path: Option<&std::path::Path>) -> FileSignature {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path?).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Blocks until SIGTERM/SIGINT; reloads routes on SIGHUP and when the routes file changes.
///
/// A change is applied only once the file's signature has been the same for one poll
/// (Pushpin debounces by about a second too): an editor's truncate-then-write must not be
/// read half-way, and a second write within the same coarse mtime tick would otherwise
/// leave the half-read version in place for good.
fn watch_signals_and_routes(config: &Config, control: &Control) {
    let routes_file = match &config.routes_source {
        RoutesSource::File(path) => Some(path.clone()),
        _ => None,
    };
    let mut loaded = file_signature(routes_file.as_deref());
    let mut pending: Option<FileSignature> = None;
    loop {
        match sys::wait_signal(ROUTES_POLL) {
            Some(libc::SIGTERM) | Some(libc::SIGINT) => {
                log::info!("signal received, draining and stopping");
                control.shutdown.store(true, Ordering::Relaxed);
                return;
            }
            Some(libc::SIGHUP) => {
                loaded = file_signature(routes_file.as_deref());
                pending = None;
                reload_routes(config, control);
            }
            _ => {
                let current = file_signature(routes_file.as_deref());
                if current == loaded {
                    pending = None;
                } else if pending == Some(current) {
                    loaded = current;
                    pending = None;
                    reload_routes(config, control);
                } else {
                    pending = Some(current);
                }
            }
        }
    }
}

fn reload_routes(config: &Config, control: &Control) {
    match load_routes(&config.routes_source) {
        Ok((routes, warnings)) => {
            for warning in &warnings {
                log::warn!("routes line {}: {}", warning.line, warning.message);
            }
            log::info!("routes loaded with {} entries", routes.len());
            match control.routes.lock() {
                Ok(mut current) => *current = Arc::new(routes),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(routes),
            }
            control.routes_generation.fetch_add(1, Ordering::Relaxed);
        }
        Err(err) => log::error!("routes reload failed, keeping the old routes: {err}"),
    }
}
