//! A bounded capture of a plugin's stdout or stderr: keeps the first `capacity`
//! bytes, drops the rest and remembers that it did, so that a chatty plugin
//! neither exhausts the host's memory nor fails because its log was long.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// A clonable handle on one capture buffer.
#[derive(Clone, Debug)]
pub struct BoundedCapture {
    capacity: usize,
    buffer: Arc<Mutex<BytesMut>>,
    truncated: Arc<AtomicBool>,
}

impl BoundedCapture {
    /// A capture that keeps at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            buffer: Arc::new(Mutex::new(BytesMut::new())),
            truncated: Arc::new(AtomicBool::new(false)),
        }
    }

    /// What was kept.
    pub fn contents(&self) -> Bytes {
        self.buffer
            .lock()
            .map(|b| b.clone().freeze())
            .unwrap_or_default()
    }

    /// True when bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.truncated.load(Ordering::Relaxed)
    }
}

impl AsyncWrite for BoundedCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Ok(mut buffer) = self.buffer.lock() {
            let room = self.capacity.saturating_sub(buffer.len());
            let kept = room.min(buf.len());
            buffer.extend_from_slice(&buf[..kept]);
            if kept < buf.len() {
                self.truncated.store(true, Ordering::Relaxed);
            }
        }
        // Everything is accepted: what does not fit is dropped, not refused.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for BoundedCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedCapture {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
