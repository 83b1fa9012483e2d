//! Frames: a 4-byte big-endian length, then that many bytes of JSON. Built on tokio-util's
//! `LengthDelimitedCodec`, which refuses a length above [`MAX_FRAME_LEN`] before buffering the
//! body. Decoding is sans-IO (push bytes, pop frames), so it is tested on random byte streams.

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::MAX_FRAME_LEN;

/// Why a frame or message was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The announced length exceeds [`MAX_FRAME_LEN`], or the stream is otherwise unreadable.
    #[error("bad frame: {0}")]
    Frame(#[from] std::io::Error),
    /// A message to send would exceed [`MAX_FRAME_LEN`].
    #[error("message of {0} bytes exceeds the {MAX_FRAME_LEN}-byte frame limit")]
    TooLarge(usize),
    /// The body is not a message of the expected type.
    #[error("bad message: {0}")]
    Message(String),
    /// The peer closed the connection.
    #[error("connection closed")]
    Closed,
}

/// The codec both ends use.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(MAX_FRAME_LEN)
        .new_codec()
}

/// Serialises `message` as a frame body (not including the length prefix).
pub fn encode<T: Serialize>(message: &T) -> Result<Bytes, FrameError> {
    let body = serde_json::to_vec(message).map_err(|e| FrameError::Message(e.to_string()))?;
    if body.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge(body.len()));
    }
    Ok(Bytes::from(body))
}

/// Parses a frame body as `T`. The error never echoes the body (it may hold a secret).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's messages name fields and positions, not values; keep only the
        // category and position so nothing from the body reaches a log.
        let what = match e.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "not a known message",
            serde_json::error::Category::Eof => "truncated JSON",
        };
        FrameError::Message(format!("{what} (line {}, column {})", e.line(), e.column()))
    })
}

/// Incremental decoder over a byte stream, for tests and fuzzing of the framing.
#[derive(Debug)]
pub struct FrameDecoder {
    codec: LengthDelimitedCodec,
    buffer: BytesMut,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self {
            codec: codec(),
            buffer: BytesMut::new(),
        }
    }
}

impl FrameDecoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame body, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<BytesMut>, FrameError> {
        Ok(self.codec.decode(&mut self.buffer)?)
    }
}

/// Length-prefixes a body, for tests and for writing frames by hand.
pub fn with_length_prefix(body: Bytes) -> Result<BytesMut, FrameError> {
    let mut out = BytesMut::with_capacity(body.len() + 4);
    codec().encode(body, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Provider, Request};
    use proptest::prelude::*;

    fn frame_of(request: &Request) -> Vec<u8> {
        with_length_prefix(encode(request).unwrap())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn oversized_lengths_are_refused_before_buffering() {
        let mut d = FrameDecoder::default();
        d.push(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes());
        assert!(matches!(d.next_frame(), Err(FrameError::Frame(_))));
    }

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let bytes = frame_of(&Request::Ping);
        let mut d = FrameDecoder::default();
        d.push(&bytes[..3]);
        assert!(d.next_frame().unwrap().is_none());
        d.push(&bytes[3..]);
        let body = d.next_frame().unwrap().expect("frame");
        assert!(matches!(decode::<Request>(&body).unwrap(), Request::Ping));
    }

    #[test]
    fn errors_do_not_echo_the_body() {
        let e = decode::<Request>(
            br#"{"op":"get_token","lease":"bbl_secret_value","provider":"nope","shop_id":"s"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains("bbl_secret_value"), "{e}");
    }

    fn arbitrary_request() -> impl Strategy<Value = Request> {
        let provider = prop_oneof![
            Just(Provider::Ga4),
            Just(Provider::Gsc),
            Just(Provider::GoogleAds),
            Just(Provider::MetaAds)
        ];
        prop_oneof![
            any::<u32>().prop_map(|version| Request::Hello { version }),
            Just(Request::Ping),
            (
                ".{0,40}",
                prop::collection::vec(provider.clone(), 0..4),
                any::<u64>()
            )
                .prop_map(|(shop_id, providers, ttl_secs)| Request::CreateLease {
                    shop_id,
                    providers,
                    ttl_secs
                }),
            (
                ".{0,80}",
                provider,
                ".{0,40}",
                proptest::option::of(".{0,60}")
            )
                .prop_map(|(lease, provider, shop_id, traceparent)| {
                    Request::GetToken {
                        lease: crate::LeaseSecret::new(lease),
                        provider,
                        shop_id,
                        traceparent,
                    }
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any byte stream, cut anywhere: the decoder never panics, and every frame it yields
        /// is within the limit and either decodes or is a typed error.
        #[test]
        fn random_streams_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut d = FrameDecoder::default();
            'outer: for chunk in chunks {
                d.push(&chunk);
                loop {
                    match d.next_frame() {
                        Ok(Some(body)) => {
                            prop_assert!(body.len() <= MAX_FRAME_LEN);
                            let _ = decode::<Request>(&body);
                        }
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
        }

        /// Valid frames survive being split at arbitrary points, several per stream.
        #[test]
        fn valid_frames_round_trip_across_splits(requests in prop::collection::vec(arbitrary_request(), 1..6), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let stream: Vec<u8> = requests.iter().flat_map(frame_of).collect();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let mut d = FrameDecoder::default();
            let mut decoded = Vec::new();
            for w in points.windows(2) {
                d.push(&stream[w[0]..w[1]]);
                while let Some(body) = d.next_frame().unwrap() {
                    decoded.push(decode::<Request>(&body).unwrap());
                }
            }
            prop_assert_eq!(decoded.len(), requests.len());
            for (a, b) in decoded.iter().zip(&requests) {
                prop_assert_eq!(serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
            }
        }

        /// Mutating bytes of valid frames (bit flips, truncation) yields errors, never panics.
        #[test]
        fn mutated_frames_are_errors_not_panics(request in arbitrary_request(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let mut bytes = frame_of(&request);
            for (i, x) in flips {
                let i = i.index(bytes.len());
                bytes[i] ^= x;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            let mut d = FrameDecoder::default();
            d.push(&bytes);
            while let Ok(Some(body)) = d.next_frame() {
                let _ = decode::<Request>(&body);
            }
        }
    }
}
