//! [`GrpcGuilds`]: presentation's guild calls over ToCloud9's `v1.GuildService`.
//!
//! - `SendGuildMessage` for a guild chat line: guildserver publishes it to the guild's online
//!   members (`guild.message.new`); its answer carries nothing but success.

use super::v1;
use super::v1::guild_service_client::GuildServiceClient;
use super::{API_VERSION, call, lazy_channel, request};
use crate::present::guild::GuildMessage;
use crate::session::SeamError;

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
}
