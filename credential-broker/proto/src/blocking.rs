//! Blocking revokes, for clean-up paths that cannot await: `Drop` of a server set, panic
//! unwinding, the last lines of a process. Same frames as the async client, over a std socket
//! with timeouts, so clean-up cannot hang.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::frame::{self, FrameError};
use crate::{BrokerError, LeaseSecret, MAX_FRAME_LEN, PROTOCOL_VERSION, Request, Response};

/// How long each step may take before clean-up gives up.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Why a blocking revoke failed.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// Socket trouble.
    #[error("credential broker socket: {0}")]
    Io(#[from] std::io::Error),
    /// Bad frame or message.
    #[error("credential broker connection: {0}")]
    Frame(#[from] FrameError),
    /// The broker refused.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

fn exchange(stream: &mut UnixStream, request: &Request) -> Result<Response, RevokeError> {
    let body = frame::encode(request)?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge(body.len()))?;
    stream.write_all(&len.to_be_bytes())?;
    stream.write_all(&body)?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(len).into());
    }
    let mut reply = vec![0u8; len];
    stream.read_exact(&mut reply)?;
    Ok(frame::decode(&reply)?)
}

/// Revokes `lease` at the broker on `socket`, waiting at most a few seconds.
pub fn revoke(socket: &Path, lease: &LeaseSecret) -> Result<(), RevokeError> {
    revoke_all(socket, std::slice::from_ref(lease))
}

/// Revokes every lease of `leases` in one request, waiting at most a few seconds per step.
pub fn revoke_all(socket: &Path, leases: &[LeaseSecret]) -> Result<(), RevokeError> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    match exchange(
        &mut stream,
        &Request::Hello {
            version: PROTOCOL_VERSION,
        },
    )? {
        Response::Hello { .. } => {}
        Response::Error(e) => return Err(e.into()),
        _ => return Err(FrameError::Message("unexpected answer to hello".into()).into()),
    }
    match exchange(
        &mut stream,
        &Request::RevokeLeases {
            leases: leases.to_vec(),
        },
    )? {
        Response::RevokedAll { .. } => Ok(()),
        Response::Error(e) => Err(e.into()),
        _ => Err(FrameError::Message("unexpected answer to revoke".into()).into()),
    }
}
