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
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

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

    fn append(&self, bytes: &[u8]) {
        if let Ok(mut buffer) = self.buffer.lock() {
            let room = self.capacity.saturating_sub(buffer.len());
            let kept = room.min(bytes.len());
            buffer.extend_from_slice(&bytes[..kept]);
            if kept < bytes.len() {
                self.truncated.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The WASI stream view of a capture: writes complete at once, no background task.
struct CaptureStream(BoundedCapture);

#[wasmtime_wasi::async_trait]
impl Pollable for CaptureStream {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CaptureStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.0.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Everything is accepted: what does not fit is dropped, not refused.
        Ok(1 << 20)
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

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(CaptureStream(self.clone()))
    }
}
