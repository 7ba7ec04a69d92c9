//! [`GrpcGuilds`]: presentation's guild calls over ToCloud9's `v1.GuildService`.
//!
//! - `SendGuildMessage` for a guild chat line: guildserver publishes it to the guild's online
//!   members (`guild.message.new`); its answer carries nothing but success.
//! - `GetRosterInfo` for CMSG_GUILD_ROSTER: the roster as the client shows it
//!   ([`GuildRoster`]): ranks by id (at most 10), members (at most 1000), days offline from
//!   each member's logout time, byte-sized fields clamped, texts cut at a NUL.

mod commands;

use super::v1;
use super::v1::guild_service_client::GuildServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::present::guild::GuildMessage;
use crate::session::SeamError;
use crate::wire::packets::{
    GUILD_BANK_TABS, GUILD_MEMBERS_MAX, GUILD_RANKS_MAX, GuildRoster, RosterMember, RosterRank,
};

/// The service name in every [`SeamError`] of this adapter.
const SERVICE: &str = "guild";

type Client = GuildServiceClient<tonic::transport::Channel>;

/// How to reach guildserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildsSettings {
    /// `host:port` of ToCloud9's guildserver (`guildsServiceAddress`).
    pub address: String,
    /// The realm this gateway serves.
    pub realm_id: u32,
    /// Deadline of one call, connecting included. Keep it below the session's
    /// `present_call_timeout_ms`, so the log names the adapter's reason.
    pub guilds_call_timeout_ms: u64,
}

impl GuildsSettings {
    /// Settings with the default deadline.
    pub fn new(address: impl Into<String>, realm_id: u32) -> Self {
        Self {
            address: address.into(),
            realm_id,
            guilds_call_timeout_ms: 4_000,
        }
    }
}

/// Presentation's guild calls over ToCloud9's guildserver. Cloning shares the channel.
#[derive(Clone)]
pub struct GrpcGuilds {
    settings: GuildsSettings,
    client: Client,
}

impl GrpcGuilds {
    /// A client that connects on its first call. Needs a runtime (tokio, or madsim).
    pub fn connect(settings: GuildsSettings) -> Result<Self, SeamError> {
        let client = Client::new(lazy_channel(
            SERVICE,
            &settings.address,
            settings.guilds_call_timeout_ms,
        )?);
        Ok(Self { settings, client })
    }

    /// Sends a guild chat line (`SendGuildMessage`).
    pub async fn send_message(&self, m: &GuildMessage) -> Result<(), SeamError> {
        const RPC: &str = "SendGuildMessage";
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let mut client = self.client.clone();
        call(
            SERVICE,
            RPC,
            timeout_ms,
            client.send_guild_message(request(
                v1::SendGuildMessageParams {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    sender_guid: m.sender,
                    is_officer_message: m.officer,
                    message: m.message.clone(),
                    language: m.language,
                },
                timeout_ms,
            )),
        )
        .await
        .map(|_| ())
    }

    /// The roster of guild `id` (`GetRosterInfo`), with days offline counted to `now_unix`
    /// (seconds since the epoch).
    pub async fn roster(&self, id: u64, now_unix: i64) -> Result<GuildRoster, SeamError> {
        const RPC: &str = "GetRosterInfo";
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.get_roster_info(request(
                v1::GetRosterInfoParams {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    guild_id: id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let Some(g) = answer.guild else {
            return Err(bad_answer(SERVICE, RPC, format!("no guild {id}")));
        };
        let text = |s: &str| s.split('\0').next().unwrap_or_default().to_owned();
        let byte = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
        let mut ranks = vec![RosterRank::default(); g.ranks.len().min(GUILD_RANKS_MAX)];
        for r in &g.ranks {
            if let Some(slot) = usize::try_from(r.id).ok().and_then(|i| ranks.get_mut(i)) {
                *slot = RosterRank {
                    rights: r.flags,
                    gold_per_day: r.gold_limit,
                    tabs: [(0, 0); GUILD_BANK_TABS],
                };
            }
        }
        let members = g
            .members
            .iter()
            .take(GUILD_MEMBERS_MAX)
            .map(|m| RosterMember {
                guid: m.guid,
                name: text(&m.name),
                rank: m.rank_id,
                level: byte(m.lvl),
                class: byte(m.class_id),
                gender: byte(m.gender),
                zone: m.area_id,
                days_offline: (m.status == 0)
                    .then(|| (now_unix.saturating_sub(m.logout_time)).max(0) as f32 / 86_400.0),
                note: text(&m.note),
                officer_note: text(&m.officer_note),
            })
            .collect();
        Ok(GuildRoster {
            motd: text(&g.welcome_text),
            info: text(&g.info_text),
            ranks,
            members,
        })
    }
}
