//! The socket: a Unix listener in a private directory (0700) with a 0600 socket, the peer's
//! uid checked on every accepted connection (SO_PEERCRED), length-capped frames, a hello first,
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
        "socket directory {0} must be owned by the broker's user and not accessible to others (chmod 700)"
    )]
    UnsafeDirectory(String),
    /// Another broker is listening.
    #[error("another process is already listening on {0}")]
    InUse(String),
}

/// Creates the socket directory (0700) and binds the socket (0600), replacing a stale socket
/// file left by a crashed broker.
pub fn bind(path: &Path) -> Result<UnixListener, SocketError> {
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
    let meta = std::fs::metadata(dir).map_err(io)?;
    if meta.uid() != nix::unistd::getuid().as_raw() || meta.mode() & 0o077 != 0 {
        return Err(SocketError::UnsafeDirectory(dir.display().to_string()));
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(SocketError::InUse(shown));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
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
                tracing::warn!("accept failed: {e}");
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
    let peer = match stream.peer_cred() {
        Ok(c) => Peer {
            uid: c.uid(),
            pid: c.pid(),
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
        });
        let refusal = BrokerError::new(
            ErrorCode::NotPermitted,
            format!("uid {} may not use this credential broker", peer.uid),
        );
        let _ = send(&mut framed, &Response::Error(refusal)).await;
        return;
    }
    let mut greeted = false;
    while let Some(next) = framed.next().await {
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
            Ok(request) => broker.handle(peer, request).await,
        };
        if send(&mut framed, &response).await.is_err() {
            return;
        }
    }
}

async fn send(
    framed: &mut Framed<UnixStream, tokio_util::codec::LengthDelimitedCodec>,
    response: &Response,
) -> Result<(), FrameError> {
    let body = frame::encode(response)?;
    framed.send(body).await.map_err(FrameError::Frame)
}
