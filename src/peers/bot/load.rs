//! Echo load for benchmarks: sequenced movement packets in a window, timed as they come back.

use std::collections::VecDeque;

use bytes::{BufMut, BytesMut};
use tokio::time::Instant;

use super::{Bot, BotError, ECHO_RTT_SAMPLES_MAX, protocol};
use crate::wire::Opcode;
use crate::wire::codec::Reader;

impl Bot {
    pub(super) async fn echo_load(
        &mut self,
        step: &str,
        packets: u32,
        window: u32,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        /// A marker that tells echo-load bodies from movement chatter.
        const ECHO_MARK: u32 = 0xEC40_EC40;
        let mut sent_at: VecDeque<Instant> = VecDeque::new();
        let load_started = Instant::now();
        let mut next = 0u32;
        let mut done = 0u32;
        while done < packets {
            while next < packets && next - done < window.max(1) {
                let mut body = BytesMut::with_capacity(body_bytes.max(8));
                body.put_u32_le(ECHO_MARK);
                body.put_u32_le(next);
                body.resize(body_bytes.max(8), 0);
                self.send(step, Opcode::MSG_MOVE_HEARTBEAT, &body)?;
                sent_at.push_back(Instant::now());
                next += 1;
            }
            self.flush(step).await?;
            // Wait for one packet, then take everything else already received, so the next
            // window refill goes out as one write.
            let deadline = self.deadline();
            let first = self.next_packet_by(step, "an echo", deadline).await?;
            let mut batch = vec![first];
            while let Some(p) = self.take_buffered(step)? {
                batch.push(p);
            }
            for p in batch {
                let mut r = Reader::new(&p.body);
                if p.opcode != Opcode::MSG_MOVE_HEARTBEAT || r.u32("mark").ok() != Some(ECHO_MARK) {
                    continue;
                }
                let seq = r.u32("seq").unwrap_or(u32::MAX);
                if seq != done {
                    return Err(protocol(
                        step,
                        format!("echo {seq} arrived, expected {done}"),
                    ));
                }
                if let Some(t) = sent_at.pop_front()
                    && self.report.echo_rtt_us.len() < ECHO_RTT_SAMPLES_MAX
                {
                    self.report
                        .echo_rtt_us
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                done += 1;
            }
        }
        self.report.echo_span = Some((load_started, Instant::now()));
        Ok(())
    }
}
