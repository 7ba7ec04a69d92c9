//! Per-session limits and deadlines. Every wait and buffer of the session core is bounded by
//! one of these, named with its unit.

use serde::Deserialize;

use crate::cluster::backoff::Backoff;

/// Limits of one client session.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Realm id, compared with nothing yet; echoed into registry calls.
    pub realm_id: u32,
    /// From accept to a verified CMSG_AUTH_SESSION (account lookup included).
    pub pre_auth_timeout_ms: u64,
    /// Bytes a client may send ahead while its auth session is being checked.
    pub pre_auth_buffer_max_bytes: usize,
    /// Cap on a client's inflated addon block.
    pub addon_inflated_max_bytes: usize,
    /// How long a characters-service answer may take before the client gets a failure.
    pub service_timeout_ms: u64,
    /// How long a verified login waits for its account claim, the account's older session
    /// (on this gateway or another) letting go included, before the client is told
    /// AUTH_ALREADY_ONLINE.
    pub account_claim_timeout_ms: u64,
    /// Connecting to a worldserver and receiving its SMSG_AUTH_CHALLENGE.
    pub world_handshake_timeout_ms: u64,
    /// After PLAYER_LOGIN (or a character-screen request) with no answer, nudge the
    /// worldserver with CMSG_KEEP_ALIVE (its parser leaves bytes that arrived with the auth
    /// session unread until more arrive); each further nudge waits twice as long.
    pub world_login_nudge_ms: u64,
    /// Nudges at most.
    pub world_login_nudges_max: u32,
    /// From placement to the first SMSG_TIME_SYNC_REQ on the worldserver.
    pub world_login_timeout_ms: u64,
    /// A character create, delete or rename, carried out by a worldserver over a link of its
    /// own: from the client's request to the worldserver's answer (ToCloud9's gateway gives
    /// it 20 s). Past it the client gets the request's failure code.
    pub char_service_timeout_ms: u64,
    /// From TC9_CMSG_PREPARE_FOR_REDIRECT to TC9_SMSG_READY_FOR_REDIRECT.
    pub redirect_ready_timeout_ms: u64,
    /// From READY_FOR_REDIRECT to the old worldserver closing the connection (its kick comes
    /// about 100 ms after READY, later on a slow world loop); past this the gateway closes it
    /// itself and waits out the worldserver's linger before the next login.
    pub redirect_release_timeout_ms: u64,
    /// Client packets held while switching worldservers.
    pub switch_buffer_max_packets: usize,
    /// Client bytes held while switching worldservers.
    pub switch_buffer_max_bytes: usize,
    /// Largest worldserver packet body accepted.
    pub world_body_max_bytes: usize,
    /// No byte from the worldserver for this long while in world (it sends a time sync every
    /// 10 s) means the link is dead, as after a partition: recovery starts.
    pub world_silence_timeout_ms: u64,
    /// A worldserver keeps an in-world player this long after the gateway's connection drops
    /// (PROTOCOL.md section 3). Until it has passed, a lost player is only ever logged back in
    /// on the same worldserver (re-attach), never elsewhere.
    pub world_linger_ms: u64,
    /// Placement while nobody can take the player (owners degraded or draining, registry view
    /// stale): bounded backoff; past its deadline the login fails with NO_WORLD.
    pub placement_backoff: Backoff,
    /// Reconnecting after a worldserver connection was lost in world: bounded, jittered
    /// backoff; its deadline is the whole recovery's.
    pub recovery_backoff: Backoff,
    /// A call presentation makes to a cluster service (a whisper through chatserver, ...):
    /// past this the client is told it failed (ToCloud9's `packetProcessTimeoutSecs`).
    pub present_call_timeout_ms: u64,
    /// Which cluster services presentation calls; none in the embedded mode, where the
    /// worldserver handles everything. Set by the mode, not by the file.
    #[serde(skip)]
    pub services: crate::present::Services,
    /// The planted bug to switch on (simulator canaries only).
    #[cfg(feature = "canaries")]
    #[serde(skip)]
    pub canary: Option<super::Canary>,
    /// A politely closing session (shutdown) waits this long for the worldserver's
    /// SMSG_LOGOUT_COMPLETE before closing anyway.
    pub logout_timeout_ms: u64,
}

impl SessionConfig {
    /// The longest a CMSG_PLAYER_LOGIN goes unanswered (no first SMSG_TIME_SYNC_REQ, no
    /// SMSG_CHARACTER_LOGIN_FAILED, no close), by these limits. The waits a login can run
    /// through one after another: the worldserver that may still hold the character lingering
    /// it; placement backing off to its deadline, plus the last backoff wait that began before
    /// it; then the attempt started last, which connects, handshakes and logs in.
    pub fn login_answer_max_ms(&self) -> u64 {
        self.world_linger_ms
            .saturating_add(self.placement_backoff.deadline_ms)
            .saturating_add(self.placement_backoff.max_ms)
            .saturating_add(self.world_handshake_timeout_ms)
            .saturating_add(self.world_login_timeout_ms)
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            realm_id: 1,
            pre_auth_timeout_ms: 30_000,
            pre_auth_buffer_max_bytes: 16 * 1024,
            addon_inflated_max_bytes: 64 * 1024,
            service_timeout_ms: 5_000,
            account_claim_timeout_ms: 10_000,
            world_handshake_timeout_ms: 5_000,
            world_login_nudge_ms: 50,
            world_login_nudges_max: 6,
            world_login_timeout_ms: 15_000,
            char_service_timeout_ms: 20_000,
            present_call_timeout_ms: 20_000,
            services: crate::present::Services::NONE,
            redirect_ready_timeout_ms: 10_000,
            redirect_release_timeout_ms: 10_000,
            switch_buffer_max_packets: 512,
            switch_buffer_max_bytes: 512 * 1024,
            world_body_max_bytes: 4 * 1024 * 1024,
            logout_timeout_ms: 2_000,
            #[cfg(feature = "canaries")]
            canary: None,
            world_silence_timeout_ms: 30_000,
            world_linger_ms: 60_000,
            placement_backoff: Backoff {
                min_ms: 250,
                max_ms: 2_000,
                multiplier: 2.0,
                jitter: 0.5,
                max_attempts: 20,
                deadline_ms: 12_000,
            },
            recovery_backoff: Backoff {
                min_ms: 250,
                max_ms: 5_000,
                multiplier: 2.0,
                jitter: 0.5,
                max_attempts: 64,
                deadline_ms: 120_000,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::backoff::Backoff;

    /// A login's bound adds up the waits a login can run through one after another, and
    /// saturates rather than wrap.
    #[test]
    fn a_logins_bound_adds_up_its_waits() {
        let cfg = SessionConfig {
            world_linger_ms: 1_000,
            placement_backoff: Backoff::new(10, 200, 2.0, 0.5, 5, 3_000).expect("valid"),
            world_handshake_timeout_ms: 40,
            world_login_timeout_ms: 500,
            ..SessionConfig::default()
        };
        assert_eq!(cfg.login_answer_max_ms(), 1_000 + 3_000 + 200 + 40 + 500);
        let huge = SessionConfig {
            world_linger_ms: u64::MAX,
            ..cfg
        };
        assert_eq!(huge.login_answer_max_ms(), u64::MAX);
    }
}
