//! In world: movement chatter, map changes by `.tele`, and counting the packets a step
//! expects.

use bytes::{BufMut, BytesMut};
use rand_core::Rng;
use tokio::time::Instant;

use super::{
    Bot, BotError, CHAT_MSG_SAY, LANG_UNIVERSAL, MOVEMENT_FORWARD, MOVEMENT_INFO_BYTES, later,
    millis, protocol,
};
use crate::wire::codec::WriteExt;
use crate::wire::packets::{NewWorld, TimeSyncReq, TransferAborted, TransferPending, WirePacket};
use crate::wire::{Opcode, Packet};

impl Bot {
    pub(super) async fn chatter(
        &mut self,
        step: &str,
        packets: u32,
        interval_ms: u64,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        let mut due = Instant::now();
        for _ in 0..packets {
            let body = self.movement(body_bytes);
            self.send(step, Opcode::MSG_MOVE_HEARTBEAT, &body)?;
            self.flush(step).await?;
            due = later(due, interval_ms);
            // Read (and answer) whatever arrives until the next packet is due. The cadence is
            // kept from the start, so slow reads do not stretch the step.
            while self.next_packet(step, due).await?.is_some() {}
        }
        Ok(())
    }

    pub(super) async fn change_map(
        &mut self,
        step: &str,
        map: u32,
        x: f32,
        y: f32,
        z: f32,
    ) -> Result<(), BotError> {
        let t0 = self.teleport_until_ack(step, map, x, y, z).await?;
        let deadline = self.deadline();
        self.await_packet(step, "SMSG_TIME_SYNC_REQ", deadline, &[TimeSyncReq::OPCODE])
            .await?;
        self.report.handoffs += 1;
        self.report.handoff_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    /// The first half of a map change: `.tele`, SMSG_TRANSFER_PENDING, SMSG_NEW_WORLD, then
    /// MSG_MOVE_WORLDPORT_ACK. Returns when the ack went out.
    pub(super) async fn teleport_until_ack(
        &mut self,
        step: &str,
        map: u32,
        x: f32,
        y: f32,
        z: f32,
    ) -> Result<Instant, BotError> {
        let mut chat = BytesMut::new();
        chat.put_u32_le(CHAT_MSG_SAY);
        chat.put_u32_le(LANG_UNIVERSAL);
        chat.put_cstr(&format!(".tele {map} {x} {y} {z}"));
        self.send(step, Opcode::CMSG_MESSAGECHAT, &chat)?;
        self.flush(step).await?;
        let transfer = [
            TransferPending::OPCODE,
            NewWorld::OPCODE,
            TransferAborted::OPCODE,
        ];
        let deadline = self.deadline();
        self.expect_new_world = true;
        self.moving();
        let p = loop {
            let p = self
                .await_packet(step, "SMSG_TRANSFER_PENDING", deadline, &transfer)
                .await;
            match p {
                // A loading screen before the teleport's own: the gateway moved the player
                // (a drain, a layer switch) while the `.tele` waited. Load, say so, and wait
                // on: the teleport follows on the next worldserver.
                Ok(p) if p.opcode == NewWorld::OPCODE => {
                    self.report.unsolicited_loading_screens += 1;
                    self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
                    self.flush(step).await?;
                }
                Ok(p) => break p,
                Err(e) => {
                    self.expect_new_world = false;
                    return Err(e);
                }
            }
        };
        self.check_transfer(step, &p, TransferPending::OPCODE)?;
        let pending = TransferPending::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_TRANSFER_PENDING: {e}")))?;
        if pending.map != map {
            return Err(protocol(
                step,
                format!("SMSG_TRANSFER_PENDING for map {}, asked {map}", pending.map),
            ));
        }
        let deadline = self.deadline();
        let p = self
            .await_packet(step, "SMSG_NEW_WORLD", deadline, &transfer)
            .await;
        self.expect_new_world = false;
        let p = p?;
        self.check_transfer(step, &p, NewWorld::OPCODE)?;
        let arrived = NewWorld::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_NEW_WORLD: {e}")))?;
        if arrived.0.map != map {
            return Err(protocol(
                step,
                format!("SMSG_NEW_WORLD for map {}, asked {map}", arrived.0.map),
            ));
        }
        let t0 = Instant::now();
        self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
        self.flush(step).await?;
        Ok(t0)
    }

    /// `p` must be `want`; a transfer abort or the other transfer packet is an error.
    fn check_transfer(&self, step: &str, p: &Packet, want: Opcode) -> Result<(), BotError> {
        if p.opcode == want {
            return Ok(());
        }
        if p.opcode == TransferAborted::OPCODE {
            let detail = match TransferAborted::decode(&p.body) {
                Ok(a) => format!(
                    "SMSG_TRANSFER_ABORTED for map {} with reason {:#04x}",
                    a.map, a.reason
                ),
                Err(e) => format!("SMSG_TRANSFER_ABORTED: {e}"),
            };
            return Err(protocol(step, detail));
        }
        Err(protocol(
            step,
            format!("{} while waiting for {want}", p.opcode),
        ))
    }

    pub(super) async fn expect_packets(
        &mut self,
        step: &str,
        opcode: Opcode,
        count: u32,
    ) -> Result<(), BotError> {
        let awaiting = format!("{count} x {opcode}");
        let mut deadline = self.deadline();
        loop {
            let seen = self.seen.get(&opcode).copied().unwrap_or(0);
            let claimed = self.claimed.entry(opcode).or_insert(0);
            if seen.saturating_sub(*claimed) >= u64::from(count) {
                *claimed += u64::from(count);
                return Ok(());
            }
            let p = self.next_packet_by(step, &awaiting, deadline).await?;
            if p.opcode == opcode {
                deadline = self.deadline();
            }
        }
    }

    /// A movement body: packed guid, flags, flags2, time, position, facing, fall time; zero
    /// padded to `len` when that is longer. The character walks a little between packets.
    fn movement(&mut self, len: usize) -> BytesMut {
        let step = |r: u32| (r % 201) as f32 / 100.0 - 1.0;
        self.walk.x += step(self.rng.next_u32());
        self.walk.y += step(self.rng.next_u32());
        let facing = (self.rng.next_u32() % 6_283) as f32 / 1_000.0;
        let mut b = BytesMut::with_capacity(len.max(9 + MOVEMENT_INFO_BYTES));
        b.put_packed_guid(self.cfg.character);
        b.put_u32_le(MOVEMENT_FORWARD);
        b.put_u16_le(0);
        b.put_u32_le(self.ticks_ms());
        b.put_f32_le(self.walk.x);
        b.put_f32_le(self.walk.y);
        b.put_f32_le(self.walk.z);
        b.put_f32_le(facing);
        self.movement_seq = self.movement_seq.wrapping_add(1);
        b.put_u32_le(self.movement_seq);
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }
}
