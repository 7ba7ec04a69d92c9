//! The bot's side of the socket: queueing and writing packets, reading them with every header
//! checked, and what it does with any packet whatever the step (time syncs, pongs, loading
//! screens).

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{
    Bot, BotError, DRAIN_WHILE_WRITING_MAX_BYTES, FAR_FUTURE_SECS, RAW_HEADER_MAX_BYTES,
    READ_CHUNK_BYTES, RECEIVED_LOG_MAX, Walk, later, millis, protocol, timeout,
};
use crate::wire::opcode::NUM_MSG_TYPES;
use crate::wire::packets::{
    LoginVerifyWorld, NewWorld, Ping, Pong, TimeSyncReq, TimeSyncResp, WirePacket,
};
use crate::wire::{Decoded, FrameError, Opcode, Packet, ServerHeaderDecoder};

impl Bot {
    /// The client's tick count: milliseconds since the bot started, wrapping like a u32.
    pub(super) fn ticks_ms(&self) -> u32 {
        millis(self.started.elapsed()) as u32
    }

    /// The deadline for one awaited reply, from now.
    pub(super) fn deadline(&self) -> Instant {
        later(Instant::now(), self.cfg.step_timeout_ms)
    }

    /// Queues one packet; it leaves with the next [`Self::flush`].
    pub(super) fn send(&mut self, step: &str, opcode: Opcode, body: &[u8]) -> Result<(), BotError> {
        self.enc
            .encode(opcode, body, &mut self.out)
            .map_err(|e| protocol(step, format!("cannot send {opcode}: {e}")))?;
        self.report.packets_sent += 1;
        Ok(())
    }

    /// Writes everything queued (and a ping, if one is due), within the step timeout.
    pub(super) async fn flush(&mut self, step: &str) -> Result<(), BotError> {
        if self.stream.is_some()
            && let Some(ping) = self.ping.take_due(Instant::now())
        {
            self.send(step, Ping::OPCODE, &ping.to_body())?;
            self.report.pings_sent += 1;
        }
        if self.out.is_empty() {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(BotError::Closed { step: step.into() });
        };
        // Clamped: madsim's timer adds the duration to its clock unchecked.
        let wait = Duration::from_millis(self.cfg.step_timeout_ms.min(FAR_FUTURE_SECS * 1_000));
        let result =
            tokio::time::timeout(wait, write_draining(stream, &mut self.dec, &self.out)).await;
        self.out.clear();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BotError::Io {
                step: step.into(),
                source,
            }),
            Err(_) => Err(timeout(
                step,
                "room to write (the gateway is not reading)",
                self.cfg.step_timeout_ms,
            )),
        }
    }

    /// Packets until one of `opcodes` arrives, before `deadline`.
    pub(super) async fn await_packet(
        &mut self,
        step: &str,
        awaiting: &str,
        deadline: Instant,
        opcodes: &[Opcode],
    ) -> Result<Packet, BotError> {
        loop {
            let p = self.next_packet_by(step, awaiting, deadline).await?;
            if opcodes.contains(&p.opcode) {
                return Ok(p);
            }
        }
    }

    /// The next packet before `deadline`, or a timeout naming `awaiting`.
    pub(super) async fn next_packet_by(
        &mut self,
        step: &str,
        awaiting: &str,
        deadline: Instant,
    ) -> Result<Packet, BotError> {
        match self.next_packet(step, deadline).await? {
            Some(p) => Ok(p),
            None => Err(timeout(step, awaiting, self.cfg.step_timeout_ms)),
        }
    }

    /// The next packet, or None at `deadline`. Answers time syncs and sends due pings on the
    /// way; every header is checked by [`Self::take_buffered`].
    pub(super) async fn next_packet(
        &mut self,
        step: &str,
        deadline: Instant,
    ) -> Result<Option<Packet>, BotError> {
        loop {
            if let Some(p) = self.take_buffered(step)? {
                // A time-sync answer may be queued.
                self.flush(step).await?;
                return Ok(Some(p));
            }
            // Sends a ping if one is due.
            self.flush(step).await?;
            let now = Instant::now();
            let wake = match self.ping.due_at() {
                Some(ping) => deadline.min(ping),
                None => deadline,
            };
            let Some(stream) = self.stream.as_mut() else {
                return Err(BotError::Closed { step: step.into() });
            };
            let buf = self.dec.buffer_mut();
            buf.reserve(READ_CHUNK_BYTES);
            let left = wake.saturating_duration_since(now);
            match tokio::time::timeout(left, stream.read_buf(buf)).await {
                Err(_) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Ok(Ok(0)) => return Err(BotError::Closed { step: step.into() }),
                Ok(Ok(_)) => {}
                Ok(Err(source)) => {
                    return Err(BotError::Io {
                        step: step.into(),
                        source,
                    });
                }
            }
        }
    }

    /// The next packet already received, if a whole one is buffered. Checks each header as
    /// soon as it is decrypted (before its body), logs the packet, and queues the answer to a
    /// time sync (sent with the next flush).
    pub(super) fn take_buffered(&mut self, step: &str) -> Result<Option<Packet>, BotError> {
        let index = self.report.packets_received;
        // Keep the raw bytes of a header the decoder may consume in this call.
        let mut snap = [0u8; RAW_HEADER_MAX_BYTES];
        let mut snap_len = 0;
        if self.dec.pending_header().is_none() {
            let buf = self.dec.buffer_mut();
            snap_len = buf.len().min(RAW_HEADER_MAX_BYTES - self.raw_header.len());
            snap[..snap_len].copy_from_slice(&buf[..snap_len]);
        }
        let before = self.dec.buffered();
        let decoded = self.dec.decode();
        let body_len = match &decoded {
            Ok(Decoded::Packet(p)) => p.body.len(),
            _ => 0,
        };
        let header_bytes = before
            .saturating_sub(self.dec.buffered())
            .saturating_sub(body_len)
            .min(snap_len);
        self.raw_header.extend_from_slice(&snap[..header_bytes]);
        let header = match &decoded {
            Ok(Decoded::Packet(p)) => Some(p.opcode),
            Ok(Decoded::NeedMore(_)) => self.dec.pending_header().map(|(op, _)| op),
            Err(_) => None,
        };
        if let Some(opcode) = header
            && opcode.0 >= NUM_MSG_TYPES
        {
            return Err(BotError::HeaderDidNotDecrypt {
                step: step.into(),
                index,
                raw: std::mem::take(&mut self.raw_header),
                detail: format!(
                    "opcode {opcode} is not a client opcode (limit 0x{NUM_MSG_TYPES:03X})"
                ),
            });
        }
        let p = match decoded {
            Ok(Decoded::Packet(p)) => p,
            Ok(Decoded::NeedMore(_)) => return Ok(None),
            Err(e @ (FrameError::ServerSize { .. } | FrameError::ServerBodyTooLarge { .. })) => {
                return Err(BotError::HeaderDidNotDecrypt {
                    step: step.into(),
                    index,
                    raw: std::mem::take(&mut self.raw_header),
                    detail: e.to_string(),
                });
            }
            Err(e) => return Err(protocol(step, e.to_string())),
        };
        // The independent reader must read the same header from the same bytes.
        let second = self.shadow.read(&self.raw_header);
        let agrees = second
            .as_ref()
            .is_ok_and(|h| h.body_len == p.body.len() && u32::from(h.opcode) == p.opcode.0);
        if !agrees {
            return Err(BotError::HeaderDidNotDecrypt {
                step: step.into(),
                index,
                raw: std::mem::take(&mut self.raw_header),
                detail: format!(
                    "the wire decoder read {} with a {}-byte body, the independent reader \
                     (PROTOCOL.md section 2) {second:?}",
                    p.opcode,
                    p.body.len()
                ),
            });
        }
        self.raw_header.clear();
        self.report.packets_received += 1;
        *self.seen.entry(p.opcode).or_insert(0) += 1;
        if self.report.received.len() >= RECEIVED_LOG_MAX {
            self.report.received.pop_front();
        }
        // A copy: a slice of the body would keep the whole read buffer it came in alive for
        // as long as the log keeps the packet.
        let kept = bytes::Bytes::copy_from_slice(&p.body);
        self.report.received.push_back((p.opcode, kept));
        self.on_any_packet(step, &p)?;
        Ok(Some(p))
    }

    /// What the bot does with a packet whatever the step.
    fn on_any_packet(&mut self, step: &str, p: &Packet) -> Result<(), BotError> {
        self.note_chat(p);
        match p.opcode {
            Opcode::SMSG_TIME_SYNC_REQ => {
                let req = TimeSyncReq::decode(&p.body)
                    .map_err(|e| protocol(step, format!("SMSG_TIME_SYNC_REQ: {e}")))?;
                if let Some(last) = self.last_time_sync
                    && req.counter != 0
                    && req.counter != last.wrapping_add(1)
                {
                    return Err(protocol(
                        step,
                        format!(
                            "SMSG_TIME_SYNC_REQ counter {} after {:?}: two world sessions interleave",
                            req.counter, self.last_time_sync
                        ),
                    ));
                }
                if req.counter == 0 {
                    // Every world session starts with a login or a loading screen: a second
                    // start without one means two worldservers' packets reached the client.
                    if self.world_entries == 0 {
                        return Err(protocol(
                            step,
                            "SMSG_TIME_SYNC_REQ counter 0 without a login or loading screen before it",
                        ));
                    }
                    self.world_entries -= 1;
                    self.arrived();
                }
                self.last_time_sync = Some(req.counter);
                let resp = TimeSyncResp {
                    counter: req.counter,
                    client_ticks_ms: self.ticks_ms(),
                };
                self.send(step, TimeSyncResp::OPCODE, &resp.to_body())?;
                self.report.time_syncs_answered += 1;
            }
            Opcode::SMSG_PONG => {
                if let Ok(pong) = Pong::decode(&p.body)
                    && let Some(ms) = self.ping.on_pong(pong.seq, Instant::now())
                {
                    self.report.latency_ms = Some(ms);
                }
            }
            Opcode::SMSG_LOGIN_VERIFY_WORLD => {
                if let Ok(v) = LoginVerifyWorld::decode(&p.body) {
                    self.walk_to(v.0.position.x, v.0.position.y, v.0.position.z);
                }
            }
            Opcode::SMSG_NEW_WORLD => {
                self.world_entries += 1;
                self.moving();
                if let Ok(v) = NewWorld::decode(&p.body) {
                    self.walk_to(v.0.position.x, v.0.position.y, v.0.position.z);
                }
                if !self.expect_new_world {
                    // A loading screen nobody asked for: load, and say so.
                    self.report.unsolicited_loading_screens += 1;
                    self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn walk_to(&mut self, x: f32, y: f32, z: f32) {
        self.walk = Walk { x, y, z };
    }
}

/// Writes and flushes `bytes`. While the socket will not take more, reads into the decoder's
/// buffer (up to [`DRAIN_WHILE_WRITING_MAX_BYTES`]) so the peer is never stuck writing to us
/// while we are stuck writing to it. End of stream or a read error met here stops the
/// reading; the next read reports it.
async fn write_draining(
    stream: &mut TcpStream,
    dec: &mut ServerHeaderDecoder,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut written = 0;
    let mut reading = true;
    poll_fn(|cx| {
        loop {
            if written < bytes.len() {
                match Pin::new(&mut *stream).poll_write(cx, &bytes[written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        written += n;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            } else if let Poll::Ready(r) = Pin::new(&mut *stream).poll_flush(cx) {
                return Poll::Ready(r);
            }
            if !reading || dec.buffered() >= DRAIN_WHILE_WRITING_MAX_BYTES {
                return Poll::Pending;
            }
            let buf = dec.buffer_mut();
            let start = buf.len();
            buf.resize(start + READ_CHUNK_BYTES, 0);
            let mut read = ReadBuf::new(&mut buf[start..]);
            let polled = Pin::new(&mut *stream).poll_read(cx, &mut read);
            let n = read.filled().len();
            buf.truncate(start + n);
            match polled {
                // Got some: try the write again, then read more.
                Poll::Ready(Ok(())) if n > 0 => {}
                Poll::Ready(_) => reading = false,
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}
