//! The socket: a Unix listener in a directory only the broker may list or change (0700, or 0711
//! when other uids are allowed), the peer's uid checked on every accepted connection (SO_PEERCRED), length-capped frames, a hello first,
//! then any number of requests in order. A peer that sends garbage gets an error and is
//! disconnected; the broker keeps serving everyone else.

use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use broker_proto::frame::{self, FrameError};
use broker_proto::{BrokerError, ErrorCode, Request, Response};
use futures::{SinkExt, StreamExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::codec::Framed;

use crate::audit::now_ms;
use crate::broker::{Broker, Peer};
use crate::store::AuditEvent;

/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 4096;

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// Directory or socket creation failed.
    #[error("socket {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The directory is not private to us.
    #[error(
        "socket directory {0} must be owned by the broker's user and grant nobody else read or write (chmod 700, or 711 so other allowed uids can reach the socket)"
    )]
    UnsafeDirectory(String),
    /// Something other than a socket is in the way.
    #[error(
        "{0} exists and is not a socket; refusing to replace it (check --socket: it must name the broker's socket, not a file)"
    )]
    NotASocket(String),
    /// Another broker is listening.
    #[error("another process is already listening on {0}")]
    InUse(String),
}

/// Creates the socket directory (0700) if missing and binds the socket, replacing a stale
/// socket left by a crashed broker (never anything else: a path that names a regular file, a
/// directory or a symlink is refused, so a typo cannot delete the database).
///
/// The directory must be the broker's and grant nobody else read or write; it may grant search
/// (0711, or 0710 for a group) so that other uids in `allowed_uids` can reach the socket by its
/// path. The socket is then 0666 (whoever reaches it connects, and the peer check on accept
/// decides), otherwise 0600.
pub fn bind(path: &Path, allowed_uids: &[u32]) -> Result<UnixListener, SocketError> {
    use std::os::unix::fs::FileTypeExt;
    let shown = path.display().to_string();
    let io = |source| SocketError::Io {
        path: shown.clone(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
    }
    let own = nix::unistd::getuid().as_raw();
    let meta = std::fs::metadata(dir).map_err(io)?;
    if meta.uid() != own || meta.mode() & 0o066 != 0 {
        return Err(SocketError::UnsafeDirectory(dir.display().to_string()));
    }
    let searchable = meta.mode() & 0o011 != 0;
    let others_allowed = allowed_uids.iter().any(|u| *u != own);
    if others_allowed && !searchable {
        tracing::warn!(
            dir = %dir.display(),
            "allowed_uids names other users, but the socket directory is private (0700): they cannot reach the socket; chmod 711 it"
        );
    }
    match std::fs::symlink_metadata(path) {
        Ok(existing) if existing.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(SocketError::InUse(shown));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        Ok(_) => return Err(SocketError::NotASocket(shown)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    let mode = if others_allowed && searchable {
        0o666
    } else {
        0o600
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    Ok(listener)
}

/// Serves `listener` until `shutdown` resolves.
pub async fn serve(
    broker: Arc<Broker>,
    listener: UnixListener,
    shutdown: impl Future<Output = ()>,
) {
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors, most likely: pause instead of spinning at full CPU and
                // log volume until one is freed.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let broker = broker.clone();
        tokio::spawn(async move {
            connection(broker, stream).await;
            drop(permit);
        });
    }
}

async fn connection(broker: Arc<Broker>, stream: UnixStream) {
    let _open = broker.metrics.connection();
    let mut peer = match stream.peer_cred() {
        Ok(c) => Peer {
            uid: c.uid(),
            pid: c.pid(),
            host: false,
        },
        Err(e) => {
            tracing::warn!("cannot read peer credentials, closing: {e}");
            return;
        }
    };
    let mut framed = Framed::new(stream, frame::codec());
    if !broker.allowed(peer) {
        tracing::warn!(uid = peer.uid, pid = ?peer.pid, "refused connection from a uid not in allowed_uids");
        broker.audit.record(AuditEvent {
            at_ms: now_ms(),
            peer_uid: Some(peer.uid),
            peer_pid: peer.pid,
            action: "connect".into(),
            shop_id: None,
            provider: None,
            lease_id: None,
            outcome: "NotPermitted".into(),
            detail: None,
            trace_id: None,
        });
        let refusal = BrokerError::new(
            ErrorCode::NotPermitted,
            format!("uid {} may not use this credential broker", peer.uid),
        );
        let _ = send(&mut framed, &Response::Error(refusal)).await;
        return;
    }
    let mut greeted = false;
    let idle = broker.config.idle_timeout;
    loop {
        // A peer that goes quiet, or stops halfway through a frame, gives its slot back.
        let next = match tokio::time::timeout(idle, framed.next()).await {
            Ok(Some(next)) => next,
            Ok(None) => return,
            Err(_) => {
                tracing::debug!(uid = peer.uid, pid = ?peer.pid, "closing an idle connection");
                return;
            }
        };
        let body = match next {
            Ok(b) => b,
            Err(e) => {
                // Oversized or unreadable framing: the stream cannot be resynchronised.
                tracing::info!(uid = peer.uid, "closing connection after a bad frame: {e}");
                let _ = send(
                    &mut framed,
                    &Response::Error(BrokerError::new(
                        ErrorCode::BadRequest,
                        format!("bad frame: {e}"),
                    )),
                )
                .await;
                return;
            }
        };
        let response = match frame::decode::<Request>(&body) {
            Err(e) => Response::Error(BrokerError::new(ErrorCode::BadRequest, e.to_string())),
            Ok(request @ Request::Hello { .. }) => {
                let r = broker.handle(peer, request).await;
                greeted = matches!(r, Response::Hello { .. });
                r
            }
            Ok(_) if !greeted => Response::Error(BrokerError::new(
                ErrorCode::UnsupportedVersion,
                "send hello with the protocol version first",
            )),
            Ok(request @ Request::ProveHost { .. }) => {
                let r = broker.handle(peer, request).await;
                // A proven host key holds for this connection only.
                peer.host = matches!(r, Response::Host);
                r
            }
            Ok(request) => broker.handle(peer, request).await,
        };
        if send(&mut framed, &response).await.is_err() {
            return;
        }
    }
}

/// How long a response may take to write before the peer (not reading) is dropped.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn send(
    framed: &mut Framed<UnixStream, tokio_util::codec::LengthDelimitedCodec>,
    response: &Response,
) -> Result<(), FrameError> {
    let body = frame::encode(response)?;
    match tokio::time::timeout(SEND_TIMEOUT, framed.send(body)).await {
        Ok(sent) => sent.map_err(FrameError::Frame),
        Err(_) => Err(FrameError::Closed),
    }
}
