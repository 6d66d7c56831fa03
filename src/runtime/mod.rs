//! Process start-up and lifetime: shards, the router, signals, route reloads.
//!
//! Owns: the threads. One pinned glommio executor per shard, one unpinned executor for the
//! publish endpoint and router, and one plain thread that waits for signals and watches the
//! routes file.
//! Must not: contain request or delivery logic.

pub mod sys;

use crate::config::{
    check_reload, file_signature, load_routes, Config, FileSignature, RoutesSource, RoutesWatch,
};
use crate::control::{self, PublishService};
use crate::limits::{
    EXECUTOR_IO_MEMORY_BYTES, EXECUTOR_START_TIMEOUT, SHARD_RING_DEPTH, SHARD_RING_DEPTH_LIMITED,
};
use crate::limits::{
    LISTEN_BACKLOG, NOFILE_RESERVED_FDS, NOFILE_RESERVED_PER_SHARD_FDS, ORIGIN_FDS_SHARE_PERCENT,
    ROUTES_FILE_POLL_INTERVAL, ROUTES_FILE_SETTLE_TIME,
};
use crate::router::inbox::{
    input_inbox, router_inbox, shard_inbox, subscription_inbox, InputInboxReceiver,
    SubscriptionSender,
};
use crate::router::{SequencerConfig, ShardId};
use crate::shard::listener::TlsConfig;
use crate::shard::{Control, ShardContext};
use crate::stats::{Input, RouterCounters, ShardCounters};
use crate::tls::{CertSource, OriginTls, ServerTls};
use glommio::{LocalExecutorBuilder, Placement};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

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
    /// The TLS certificates could not be loaded.
    #[error("tls: {0}")]
    Tls(crate::tls::CertError),
    /// The signal mask, a shard inbox or a listener's second descriptor could not be set up.
    #[error("cannot set up signals, inboxes or listeners: {0}")]
    Signals(std::io::Error),
}

/// How a shard may spend descriptors. Over all shards,
/// `reserved + shards * (clients_per_shard + origins_per_shard) <= RLIMIT_NOFILE`, so client
/// and origin sockets together can never take the descriptors the listeners and the publish
/// endpoint need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdBudget {
    /// Client connections one shard accepts (its connection cap).
    pub clients_per_shard: usize,
    /// Origin sockets one shard may have open, idle pooled ones included.
    pub origins_per_shard: usize,
    /// Descriptors given to neither: `NOFILE_RESERVED_FDS`, plus per shard
    /// `NOFILE_RESERVED_PER_SHARD_FDS` and one per `--listen` address.
    pub reserved: u64,
}

/// Splits `nofile` descriptors: the reserves first, then `ORIGIN_FDS_SHARE_PERCENT` of the
/// rest for origin sockets and the remainder for clients, each divided evenly over `shards`.
pub fn fd_budget(nofile: u64, shards: usize, listeners_per_shard: usize) -> FdBudget {
    let shards = shards.max(1) as u64;
    let reserved =
        NOFILE_RESERVED_FDS + shards * (NOFILE_RESERVED_PER_SHARD_FDS + listeners_per_shard as u64);
    let spare = nofile.saturating_sub(reserved);
    let origins = spare * ORIGIN_FDS_SHARE_PERCENT / 100;
    let clients = spare - origins;
    FdBudget {
        clients_per_shard: (clients / shards) as usize,
        origins_per_shard: (origins / shards) as usize,
        reserved,
    }
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
    let (routes, routes_signature) = startup_routes(&config)?;
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let shard_count = match config.shards {
        0 => cores.len().max(1),
        n => n,
    };
    if shard_count > crate::limits::SHARDS_MAX {
        return Err(StartError::TooManyShards {
            shards: shard_count,
            max: crate::limits::SHARDS_MAX,
        });
    }
    let server_tls = load_server_tls(&config)?;
    let budget = fd_budget(
        nofile,
        shard_count,
        config.listen.len() + config.listen_tls.len(),
    );
    log::info!(
        "RLIMIT_NOFILE={nofile}: {} reserved; per shard ({shard_count}) {} client connections \
         and {} origin sockets",
        budget.reserved,
        budget.clients_per_shard,
        budget.origins_per_shard
    );
    let control = build_control(&config, routes)?;
    let config = Arc::new(config);
    let publish_fd =
        sys::bind_listener(config.publish_listen, false, LISTEN_BACKLOG).map_err(|source| {
            StartError::Bind {
                addr: config.publish_listen,
                source,
            }
        })?;
    let (router_tx, router_rx) = router_inbox().map_err(StartError::Signals)?;
    let inputs = start_zmq_inputs(&config, &control, shard_count)?;
    let listen = Listen {
        cores: &cores,
        shard_count,
        budget,
        tls: server_tls.as_ref(),
        ring_depth: shard_ring_depth_logged(sys::memory_lock()),
    };
    let shards = spawn_shards(&config, &control, listen, router_tx)?;
    let router = spawn_router(
        &config,
        &control,
        publish_fd,
        router_rx,
        inputs,
        shards.inboxes,
        shards.counters,
    )?;
    log::info!(
        "ringpin {} listening on {} (publish on {}), {shard_count} shards",
        env!("CARGO_PKG_VERSION"),
        (config.listen.iter().map(|a| a.to_string()))
            .chain(config.listen_tls.iter().map(|a| format!("{a} (tls)")))
            .collect::<Vec<_>>()
            .join(", "),
        config.publish_listen
    );
    watch_signals_and_routes(&config, &control, server_tls.as_ref(), routes_signature);
    for handle in shards.handles {
        let _ = handle.join();
    }
    let _ = router.join();
    log::info!("ringpin stopped");
    Ok(())
}

/// The process-wide control state: routes, the per-address limit, and the TLS client
/// configurations for `ssl` origins (Mozilla's roots plus `--origin-ca`).
fn build_control(
    config: &Config,
    routes: crate::config::Routes,
) -> Result<Arc<Control>, StartError> {
    let origin_tls = OriginTls::new(config.origin_ca.as_deref()).map_err(StartError::Tls)?;
    let control = Control::new(routes)
        .with_peer_limit(config.connections_per_ip_max)
        .with_origin_tls(origin_tls);
    Ok(Arc::new(control))
}

/// What the router executor needs from the ZeroMQ inputs: the end of their inbox, where to
/// send channel edges for the SUB input's subscriptions, and the router's counters, which
/// hold each input's own.
struct ZmqInputs {
    inbox: InputInboxReceiver,
    subscriptions: Option<SubscriptionSender>,
    counters: RouterCounters,
}

/// Binds the ZeroMQ PULL input (`push_in_spec`) and the SUB input (`push_in_sub_specs`) and
/// starts their threads. A spec that cannot be bound is logged and the proxy starts without
/// that input: the default ports may be held by a Pushpin still running on the host.
fn start_zmq_inputs(
    config: &Config,
    control: &Arc<Control>,
    shard_count: usize,
) -> Result<ZmqInputs, StartError> {
    let counters = RouterCounters::default();
    let (tx, rx) = input_inbox().map_err(StartError::Signals)?;
    if let Some(spec) = &config.push_in_spec {
        let pull = Arc::clone(counters.input(Input::ZmqPull));
        if let Err(err) = control::spawn_pull_input(spec, tx.clone(), Arc::clone(control), pull) {
            log::error!("{err}; starting without it");
        }
    }
    let mut subscriptions = None;
    if !config.push_in_sub_specs.is_empty() {
        let (sub_tx, sub_rx) = subscription_inbox().map_err(StartError::Signals)?;
        let specs = &config.push_in_sub_specs;
        let connect = config.push_in_sub_connect;
        let sub = Arc::clone(counters.input(Input::ZmqSub));
        let control = Arc::clone(control);
        match control::spawn_sub_input(specs, connect, tx.clone(), control, sub_rx, sub) {
            Ok(_thread) => subscriptions = Some(sub_tx),
            Err(err) => log::error!("{err}; starting without it"),
        }
    }
    if let Some(command) = &config.command_spec {
        let uris = control::CommandUris {
            command: command.clone(),
            publish_pull: config.push_in_spec.clone(),
            publish_sub: (!config.push_in_sub_connect)
                .then(|| config.push_in_sub_specs.first().cloned())
                .flatten(),
        };
        let context = control::CommandContext {
            uris,
            inbox: tx,
            shards: shard_count,
            counters: Arc::clone(counters.input(Input::Command)),
        };
        if let Err(err) = control::spawn_command_socket(context, Arc::clone(control)) {
            log::error!("{err}; starting without it");
        }
    }
    Ok(ZmqInputs {
        inbox: rx,
        subscriptions,
        counters,
    })
}

/// The routes to start with; a table with no route starts anyway, as in Pushpin.
///
/// Also returns the routes file's signature from before it was read: the watcher compares
/// against that, so a change made between this read and the watcher's start (the executors
/// start first) is still seen as a change.
fn startup_routes(config: &Config) -> Result<(crate::config::Routes, FileSignature), StartError> {
    let signature = routes_file(config).and_then(file_signature);
    let (routes, warnings) = load_routes(&config.routes_source)?;
    for warning in &warnings {
        log::warn!("routes line {}: {}", warning.line, warning.message);
    }
    log::info!(
        "routes loaded from {} with {} entries",
        config.routes_source,
        routes.len()
    );
    if routes.is_empty() {
        // A later reload must find at least one route.
        log::warn!("no valid route: every request gets 502 until the routes are reloaded");
    }
    Ok((routes, signature))
}

/// The running shards: their threads, their inboxes and their counters, by shard index.
struct Shards {
    handles: Vec<glommio::ExecutorJoinHandle<()>>,
    inboxes: Vec<crate::router::inbox::ShardInboxSender>,
    counters: Vec<Arc<ShardCounters>>,
}

/// The certificates of the TLS listeners, if there are any; none found is a start-up error.
fn load_server_tls(config: &Config) -> Result<Option<ServerTls>, StartError> {
    if config.listen_tls.is_empty() {
        return Ok(None);
    }
    let source = CertSource {
        pair: config.tls_cert.clone(),
        dir: config.tls_dir.clone(),
    };
    let ports: Vec<u16> = config.listen_tls.iter().map(|a| a.port()).collect();
    let (tls, warnings) = ServerTls::load(source, &ports).map_err(StartError::Tls)?;
    for warning in warnings {
        log::warn!("tls: {warning}");
    }
    log::info!("tls: {} certificates loaded", tls.len());
    Ok(Some(tls))
}

/// Where and how the shards listen.
struct Listen<'a> {
    cores: &'a [core_affinity::CoreId],
    shard_count: usize,
    budget: FdBudget,
    tls: Option<&'a ServerTls>,
    /// Entries of each of a shard's io_uring rings (`shard_ring_depth`).
    ring_depth: usize,
}

/// `shard_ring_depth`, saying at start why the rings are shallow when they are.
fn shard_ring_depth_logged(lock: sys::MemoryLock) -> usize {
    let depth = shard_ring_depth(lock);
    if depth != SHARD_RING_DEPTH {
        let limit = lock.limit.unwrap_or(0) / 1024;
        log::info!(
            "RLIMIT_MEMLOCK={limit} KiB without CAP_IPC_LOCK: shards use io_uring rings of \
             {depth} entries; unlimited (LimitMEMLOCK=infinity) they use {SHARD_RING_DEPTH}, \
             which parks and wakes faster with many held connections"
        );
    }
    depth
}

/// The shards' io_uring ring depth: `SHARD_RING_DEPTH` when ringpin may lock what it wants,
/// else glommio's default. Linux charges ring memory to RLIMIT_MEMLOCK, and a shard that
/// cannot build its rings does not start, so a finite limit gets the rings that fit it.
fn shard_ring_depth(lock: sys::MemoryLock) -> usize {
    if lock.has_ipc_lock || lock.limit.is_none() {
        SHARD_RING_DEPTH
    } else {
        SHARD_RING_DEPTH_LIMITED
    }
}

/// Binds one shard's listeners: each `--listen` address, then each TLS one with its rustls
/// configuration.
fn bind_shard_listeners(
    config: &Config,
    tls: Option<&ServerTls>,
) -> Result<Vec<(std::os::fd::OwnedFd, Option<TlsConfig>)>, StartError> {
    let mut fds = Vec::new();
    for &addr in &config.listen {
        let fd = sys::bind_listener(addr, true, LISTEN_BACKLOG)
            .map_err(|source| StartError::Bind { addr, source })?;
        fds.push((fd, None));
    }
    for &addr in &config.listen_tls {
        let fd = sys::bind_listener(addr, true, LISTEN_BACKLOG)
            .map_err(|source| StartError::Bind { addr, source })?;
        fds.push((fd, tls.map(|tls| tls.server_config(addr.port()))));
    }
    Ok(fds)
}

/// Starts `shard_count` shard executors, each with its own listener per `--listen` and
/// `--listen-tls` address, pinned one per core when there are enough cores.
fn spawn_shards(
    config: &Arc<Config>,
    control: &Arc<Control>,
    listen: Listen<'_>,
    router_tx: crate::router::inbox::RouterInboxSender,
) -> Result<Shards, StartError> {
    let Listen {
        cores,
        shard_count,
        budget,
        tls,
        ring_depth,
    } = listen;
    let mut shards = Shards {
        handles: Vec::new(),
        inboxes: Vec::new(),
        counters: Vec::new(),
    };
    for index in 0..shard_count {
        let fds = bind_shard_listeners(config, tls)?;
        let stops = (fds.iter().map(|(fd, _)| sys::ListenerStop::new(fd)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StartError::Signals)?;
        let (tx, rx) = shard_inbox().map_err(StartError::Signals)?;
        shards.inboxes.push(tx);
        let counters = Arc::new(ShardCounters::default());
        shards.counters.push(Arc::clone(&counters));
        let placement = match cores.get(index % cores.len().max(1)) {
            Some(core) if config.pin_shards && shard_count <= cores.len() => {
                Placement::Fixed(core.id)
            }
            _ => Placement::Unbound,
        };
        let (config, control, router_tx) =
            (Arc::clone(config), Arc::clone(control), router_tx.clone());
        let name = format!("ringpin-shard-{index}");
        let (started, running) = std::sync::mpsc::sync_channel(1);
        let handle = LocalExecutorBuilder::new(placement)
            .name(&name)
            .io_memory(EXECUTOR_IO_MEMORY_BYTES)
            .ring_depth(ring_depth)
            .spawn(move || async move {
                let _ = started.send(());
                let id = ShardId(index as u16);
                let (clients, origins) = (budget.clients_per_shard, budget.origins_per_shard);
                let ctx =
                    ShardContext::new(id, config, control, router_tx, counters, clients, origins);
                let stop_listening = move || drop(stops);
                crate::shard::run(Rc::new(ctx), fds, rx, crate::flow::serve, stop_listening).await;
            })
            .map_err(|e| StartError::Executor {
                name: name.clone(),
                reason: e.to_string(),
            })?;
        shards.handles.push(await_started(&name, &running, handle)?);
    }
    Ok(shards)
}

/// Starts the router executor: the publish listener and `PublishService`, with a timer that
/// releases parked items, until shutdown.
fn spawn_router(
    config: &Config,
    control: &Arc<Control>,
    publish_fd: std::os::fd::OwnedFd,
    mut router_rx: crate::router::inbox::RouterInboxReceiver,
    inputs: ZmqInputs,
    inboxes: Vec<crate::router::inbox::ShardInboxSender>,
    counters: Vec<Arc<ShardCounters>>,
) -> Result<glommio::ExecutorJoinHandle<()>, StartError> {
    let router_control = Arc::clone(control);
    let sequencing = SequencerConfig {
        message_wait: config.message_wait,
        id_cache_ttl: config.id_cache_ttl,
    };
    let auth = config.publish_auth.clone();
    let ws_deflate = config.allow_compression;
    let stop = sys::ListenerStop::new(&publish_fd).map_err(StartError::Signals)?;
    let (started, running) = std::sync::mpsc::sync_channel(1);
    let handle = LocalExecutorBuilder::new(Placement::Unbound)
        .name("ringpin-router")
        .io_memory(EXECUTOR_IO_MEMORY_BYTES)
        .spawn(move || async move {
            let _ = started.send(());
            let interest_wake = router_rx.take_wake_socket();
            let service = Rc::new(PublishService::new(
                router_rx,
                inboxes,
                counters,
                sequencing,
                inputs.counters,
            ));
            service.set_ws_deflate(ws_deflate);
            let listener = crate::shard::sys::glommio_listener(publish_fd);
            let auth = Rc::new(auth);
            let accepting = control::accept_loop(Rc::clone(&service), auth, listener);
            glommio::spawn_local(accepting).detach();
            if let Some(out) = inputs.subscriptions {
                service.forward_subscriptions(out);
                // Only a SUB input needs edges at once; without one the wake-up byte stays
                // unread, `pending` stays set, and shards write no more of them.
                if let Some(socket) = interest_wake {
                    let edges = control::interest_loop(Rc::clone(&service), socket);
                    glommio::spawn_local(edges).detach();
                }
            }
            let input = control::input_loop(Rc::clone(&service), inputs.inbox);
            glommio::spawn_local(input).detach();
            while !router_control.is_shutting_down() {
                glommio::timer::sleep(service.next_sleep()).await;
                service.on_tick().await;
            }
            drop(stop);
        })
        .map_err(|e| StartError::Executor {
            name: "ringpin-router".into(),
            reason: e.to_string(),
        })?;
    await_started("ringpin-router", &running, handle)
}

/// Waits until the executor behind `handle` runs its first task, which sends on `running`.
///
/// glommio builds each executor (its io_uring rings and their locked memory) on the new
/// thread, after `spawn` has returned `Ok`; one that cannot be built (`RLIMIT_MEMLOCK` below
/// what the rings need, say) ends its thread and drops the sender unsent. Without this check
/// ringpin would log that it is listening and answer nothing.
fn await_started(
    name: &str,
    running: &std::sync::mpsc::Receiver<()>,
    handle: glommio::ExecutorJoinHandle<()>,
) -> Result<glommio::ExecutorJoinHandle<()>, StartError> {
    use std::sync::mpsc::RecvTimeoutError;
    let reason = match running.recv_timeout(EXECUTOR_START_TIMEOUT) {
        Ok(()) => return Ok(handle),
        Err(RecvTimeoutError::Disconnected) => match handle.join() {
            Err(e) if e.to_string().contains("MemLock") => format!(
                "{e}: its io_uring rings need {} KiB of locked memory; raise RLIMIT_MEMLOCK \
                 (ulimit -l, or LimitMEMLOCK= in a systemd unit)",
                EXECUTOR_IO_MEMORY_BYTES / 1024
            ),
            Err(e) => e.to_string(),
            Ok(()) => "its thread ended before it ran".into(),
        },
        Err(RecvTimeoutError::Timeout) => {
            format!(
                "not running {} s after start",
                EXECUTOR_START_TIMEOUT.as_secs()
            )
        }
    };
    Err(StartError::Executor {
        name: name.into(),
        reason,
    })
}

/// Blocks until SIGTERM/SIGINT; reloads routes on SIGHUP and when the routes file changes, and
/// the TLS certificates on SIGHUP.
///
/// The watcher reads a changed file only once it has stayed the same for
/// `ROUTES_FILE_SETTLE_TIME` (`config::RoutesWatch`), so a file being written is not read
/// half-way; SIGHUP reads at once. Either way a read that overlaps a write is done again
/// (`config::load_routes`), and a result with no route is refused (`config::check_reload`).
fn watch_signals_and_routes(
    config: &Config,
    control: &Control,
    tls: Option<&ServerTls>,
    read_at_start: FileSignature,
) {
    let routes_file = routes_file(config);
    let signature = || routes_file.and_then(file_signature);
    let mut watch = RoutesWatch::new(read_at_start, ROUTES_FILE_SETTLE_TIME);
    loop {
        match sys::wait_signal(ROUTES_FILE_POLL_INTERVAL) {
            Some(libc::SIGTERM) | Some(libc::SIGINT) => {
                log::info!("signal received, draining and stopping");
                control.shutdown.store(true, Ordering::Relaxed);
                return;
            }
            Some(libc::SIGHUP) => {
                watch.on_read(signature());
                reload_routes(config, control);
                if let Some(tls) = tls {
                    reload_certificates(config, tls);
                }
            }
            _ => {
                if routes_file.is_some() && watch.on_poll(signature(), Instant::now()) {
                    watch.on_read(signature());
                    reload_routes(config, control);
                }
            }
        }
    }
}

/// The routes file, when the routes come from one.
fn routes_file(config: &Config) -> Option<&std::path::Path> {
    match &config.routes_source {
        RoutesSource::File(path) => Some(path),
        _ => None,
    }
}

/// Loads the routes again and swaps them in, unless that fails or finds no route: then the
/// routes in use stay, and the reason is logged.
fn reload_routes(config: &Config, control: &Control) {
    let file = match &config.routes_source {
        RoutesSource::File(path) => path.display().to_string(),
        _ => "--route".to_string(),
    };
    let loaded = load_routes(&config.routes_source);
    if let Ok((_, warnings)) = &loaded {
        for warning in warnings {
            log::warn!("routes line {}: {}", warning.line, warning.message);
        }
    }
    match loaded.and_then(|loaded| check_reload(loaded, &file)) {
        Ok((routes, _)) => {
            log::info!(
                "routes loaded from {} with {} entries",
                config.routes_source,
                routes.len()
            );
            match control.routes.lock() {
                Ok(mut current) => *current = Arc::new(routes),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(routes),
            }
            control.routes_generation.fetch_add(1, Ordering::Relaxed);
        }
        Err(err) => log::error!("routes reload failed, keeping the old routes: {err}"),
    }
}

/// Reads the TLS certificates again; new handshakes use them at once. On an error (a file
/// that does not parse, no default certificate left) the certificates in use stay.
fn reload_certificates(config: &Config, tls: &ServerTls) {
    let ports: Vec<u16> = config.listen_tls.iter().map(|a| a.port()).collect();
    match tls.reload(&ports) {
        Ok((count, warnings)) => {
            for warning in warnings {
                log::warn!("tls: {warning}");
            }
            log::info!("tls: {count} certificates loaded");
        }
        Err(err) => log::error!("tls: reload failed, keeping the old certificates: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{fd_budget, shard_ring_depth, sys::MemoryLock, FdBudget};
    use crate::limits::{SHARD_RING_DEPTH, SHARD_RING_DEPTH_LIMITED};

    #[test]
    fn deep_rings_only_where_locked_memory_is_unlimited() {
        let depth = |has_ipc_lock, limit| {
            shard_ring_depth(MemoryLock {
                has_ipc_lock,
                limit,
            })
        };
        assert_eq!(depth(true, Some(8 << 20)), SHARD_RING_DEPTH);
        assert_eq!(depth(false, None), SHARD_RING_DEPTH);
        assert_eq!(depth(false, Some(8 << 20)), SHARD_RING_DEPTH_LIMITED);
        assert_eq!(depth(false, Some(u64::MAX - 1)), SHARD_RING_DEPTH_LIMITED);
    }

    #[test]
    fn clients_origins_and_reserves_never_add_up_to_more_than_the_limit() {
        for nofile in [0, 100, 300, 700, 1024, 20_000, 1_048_576] {
            for shards in [1, 2, 3, 7, 64] {
                for listeners in [1, 3] {
                    let b = fd_budget(nofile, shards, listeners);
                    let used = (b.clients_per_shard + b.origins_per_shard) as u64 * shards as u64;
                    assert!(
                        nofile < b.reserved || used + b.reserved <= nofile,
                        "{nofile} fds, {shards} shards: {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn twenty_thousand_descriptors_on_two_shards_give_a_tenth_of_the_rest_to_origins() {
        // 20000 - (256 + 2 * (16 + 1)) = 19710; a tenth (1971) for origins.
        assert_eq!(
            fd_budget(20_000, 2, 1),
            FdBudget {
                clients_per_shard: 8869,
                origins_per_shard: 985,
                reserved: 290,
            }
        );
    }

    #[test]
    fn a_limit_below_the_reserve_leaves_no_client_or_origin_socket() {
        assert_eq!(
            fd_budget(200, 2, 1),
            FdBudget {
                clients_per_shard: 0,
                origins_per_shard: 0,
                reserved: 290,
            }
        );
    }
}
