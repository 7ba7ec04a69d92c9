//! The handshake: the challenge, the auth session with its digest and addons, the header
//! ciphers, and the auth response (queue answers included).

use rand_core::Rng;
use tokio::time::Instant;

use super::{Bot, BotError, protocol};
use crate::wire::ClientCiphers;
use crate::wire::auth::{
    Addon, AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
    compute_digest,
};

impl Bot {
    pub(super) async fn authenticate(&mut self, step: &str) -> Result<(), BotError> {
        if self.authenticated {
            return Err(protocol(step, "already authenticated on this connection"));
        }
        let deadline = self.deadline();
        let p = self
            .next_packet_by(step, "SMSG_AUTH_CHALLENGE", deadline)
            .await?;
        if p.opcode != AuthChallenge::OPCODE {
            return Err(protocol(
                step,
                format!("{} instead of SMSG_AUTH_CHALLENGE", p.opcode),
            ));
        }
        let challenge = AuthChallenge::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_AUTH_CHALLENGE: {e}")))?;
        let client_seed = self.rng.next_u32();
        let body = AuthSession::encode(&AuthSessionFields {
            account: self.cfg.account.clone(),
            client_seed,
            realm_id: self.cfg.realm_id,
            digest: compute_digest(
                &self.cfg.account,
                client_seed,
                challenge.server_seed,
                &self.cfg.session_key,
            ),
            addon_block: addons().encode_block(),
        });
        self.send(step, AuthSession::OPCODE, &body)?;
        self.flush(step).await?;
        // Every header after the auth session is encrypted, both ways. The decoder decrypts a
        // header byte when it consumes it, so bytes already buffered are handled right.
        let ciphers = ClientCiphers::new(&self.cfg.session_key);
        self.enc.start_cipher(ciphers.outbound);
        self.dec.start_cipher(ciphers.inbound);
        self.shadow.start(&self.cfg.session_key.0);
        loop {
            // Each answer (a queue update included) has its own deadline.
            let deadline = self.deadline();
            let p = self
                .next_packet_by(step, "SMSG_AUTH_RESPONSE", deadline)
                .await?;
            if p.opcode != AuthResponse::OPCODE {
                return Err(protocol(
                    step,
                    format!("{} instead of SMSG_AUTH_RESPONSE", p.opcode),
                ));
            }
            match AuthResponse::decode(&p.body) {
                Ok(AuthResponse::Ok(_)) => {
                    self.report.auth_result = Some(AuthResult::OK.0);
                    self.authenticated = true;
                    self.ping.start(Instant::now());
                    return Ok(());
                }
                Ok(
                    AuthResponse::Queued { position, .. } | AuthResponse::QueueUpdate { position },
                ) => {
                    self.report.auth_result = Some(AuthResult::WAIT_QUEUE.0);
                    self.report.queue_position = Some(position);
                }
                Ok(AuthResponse::Failed(code)) => {
                    self.report.auth_result = Some(code.0);
                    return Err(BotError::AuthRefused(code.0));
                }
                Err(e) => return Err(protocol(step, format!("SMSG_AUTH_RESPONSE: {e}"))),
            }
        }
    }
}

/// The two addons the bot lists in its auth session.
fn addons() -> AddonList {
    /// CRC of the standard Blizzard addon key.
    const BLIZZARD_KEY_CRC: u32 = 0x4C1C_776D;
    let addon = |name: &str| Addon {
        name: name.into(),
        enabled: 1,
        crc: BLIZZARD_KEY_CRC,
        unknown: 0,
    };
    AddonList {
        addons: vec![addon("Blizzard_AchievementUI"), addon("Blizzard_AuctionUI")],
        time: Some(0),
    }
}
