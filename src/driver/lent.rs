//! Read buffers lent for one read at a time, so an idle connection holds none.
//!
//! A connection borrows a buffer from its thread's small pool only while a read is ready:
//! the read future takes one, polls the socket into it and puts it back at once when
//! nothing is there. A read that got bytes keeps the buffer until the session's outputs for
//! it are carried out (they may write runs of it, see `Output::ClientRun`), then it goes
//! back to the pool of whatever thread the task is on by then. The session keeps only the
//! bytes of a packet a read ended in the middle of.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;

/// Bytes read from a socket at once, at most: the size of every lent buffer.
pub(super) const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Buffers one thread's pool keeps for reuse, at most; more are freed. A task holds at most
/// one at a time, so a few per worker thread cover every connection that is mid-write.
const POOL_PER_THREAD_MAX: usize = 8;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

fn take() -> Box<[u8]> {
    POOL.try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0u8; READ_CHUNK_BYTES].into_boxed_slice())
}

fn give(buf: Box<[u8]>) {
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_PER_THREAD_MAX {
            p.push(buf);
        }
    });
}

/// What one read got, in a lent buffer; back to the pool when dropped.
pub(super) struct Lent {
    buf: Option<Box<[u8]>>,
    len: usize,
}

impl Lent {
    /// The bytes read (none: the peer closed its side).
    pub(super) fn data(&self) -> &[u8] {
        self.buf.as_deref().map_or(&[], |b| &b[..self.len])
    }

    /// The bytes read, for the session to re-frame headers in place.
    pub(super) fn data_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        self.buf.as_deref_mut().map_or(&mut [], |b| &mut b[..len])
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            give(buf);
        }
    }
}

/// Reads what the socket has into a lent buffer. The buffer is held only while the socket
/// has bytes: a pending read gives it straight back, so dropping this future (another
/// branch of a `select!` won) loses nothing.
pub(super) async fn read_lent(stream: &mut TcpStream) -> io::Result<Lent> {
    std::future::poll_fn(|cx| {
        let mut buf = take();
        let mut rb = ReadBuf::new(&mut buf);
        match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let len = rb.filled().len();
                Poll::Ready(Ok(Lent {
                    buf: Some(buf),
                    len,
                }))
            }
            Poll::Ready(Err(e)) => {
                give(buf);
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                give(buf);
                Poll::Pending
            }
        }
    })
    .await
}
