//! [`GrpcChat`]: presentation's chat calls over ToCloud9's `v1.ChatService`.
//!
//! - `SendWhisperMessage` for a whisper: `Ok` with the receiver's guid is delivered (chatserver
//!   publishes it on the receiver's gateway subject), `CharacterNotFound` is nobody online of
//!   that name. Any other status is a bad answer, and a failed call is a [`SeamError`]; the
//!   presenter hears both as a failed whisper.
//! - The channel calls (`JoinChannel`, `LeaveChannel`, `SendChannelMessage`,
//!   `GetChannelList`): each status becomes the [`ChannelReply`] AzerothCore's notification
//!   of the same refusal renders (WrongPassword WRONG_PASSWORD, Banned BANNED, WrongFaction
//!   WRONG_FACTION, NotInArea NOT_IN_AREA, Throttled THROTTLED, NotMember NOT_MEMBER, Muted
//!   MUTED); an unknown status is a bad answer.

use super::v1;
use super::v1::chat_service_client::ChatServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::present::channels::{ChannelCall, ChannelOp, ChannelReply};
use crate::present::chat::{Whisper, WhisperOutcome};
use crate::session::SeamError;
use crate::wire::packets::{ChannelListMember, channel_notify};

/// The service name in every [`SeamError`] of this adapter.
const SERVICE: &str = "chat";

type Client = ChatServiceClient<tonic::transport::Channel>;

/// How to reach chatserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// `host:port` of ToCloud9's chatserver (`chatServiceAddress`).
    pub address: String,
    /// The realm this gateway serves.
    pub realm_id: u32,
    /// Deadline of one call, connecting included. Keep it below the session's
    /// `present_call_timeout_ms`, so the log names the adapter's reason.
    pub chat_call_timeout_ms: u64,
}

impl ChatSettings {
    /// Settings with the default deadline.
    pub fn new(address: impl Into<String>, realm_id: u32) -> Self {
        Self {
            address: address.into(),
            realm_id,
            chat_call_timeout_ms: 4_000,
        }
    }
}

/// Presentation's chat calls over ToCloud9's chatserver. Cloning shares the channel.
#[derive(Clone)]
pub struct GrpcChat {
    settings: ChatSettings,
    client: Client,
}

impl GrpcChat {
    /// A client that connects on its first call. Needs a runtime (tokio, or madsim).
    pub fn connect(settings: ChatSettings) -> Result<Self, SeamError> {
        let client = Client::new(lazy_channel(
            SERVICE,
            &settings.address,
            settings.chat_call_timeout_ms,
        )?);
        Ok(Self { settings, client })
    }

    /// Sends a whisper (`SendWhisperMessage`).
    pub async fn whisper(&self, w: &Whisper) -> Result<WhisperOutcome, SeamError> {
        const RPC: &str = "SendWhisperMessage";
        let timeout_ms = self.settings.chat_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.send_whisper_message(request(
                v1::SendWhisperMessageRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    sender_guid: w.sender,
                    sender_name: w.sender_name.clone(),
                    sender_race: u32::from(w.sender_race),
                    language: w.language,
                    receiver_name: w.receiver_name.clone(),
                    msg: w.message.clone(),
                },
                timeout_ms,
            )),
        )
        .await?;
        use v1::send_whisper_message_response::Status;
        match Status::try_from(answer.status) {
            Ok(Status::Ok) => Ok(WhisperOutcome::Delivered {
                receiver: answer.receiver_guid,
            }),
            Ok(Status::CharacterNotFound) => Ok(WhisperOutcome::NotFound),
            Err(_) => Err(bad_answer(
                SERVICE,
                RPC,
                format!("unknown status {}", answer.status),
            )),
        }
    }

    /// A channel call: `JoinChannel`, `LeaveChannel`, `SendChannelMessage` or
    /// `GetChannelList`.
    pub async fn channel(&self, c: &ChannelCall) -> Result<ChannelReply, SeamError> {
        match &c.op {
            ChannelOp::Join {
                id,
                password,
                flags,
            } => self.join_channel(c, *id, password, *flags).await,
            ChannelOp::Leave { .. } => self.leave_channel(c).await,
            ChannelOp::Say { language, message } => {
                self.send_channel_message(c, *language, message).await
            }
            ChannelOp::List => self.channel_list(c).await,
        }
    }

    async fn join_channel(
        &self,
        c: &ChannelCall,
        id: u32,
        password: &str,
        flags: u8,
    ) -> Result<ChannelReply, SeamError> {
        const RPC: &str = "JoinChannel";
        let timeout_ms = self.settings.chat_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.join_channel(request(
                v1::JoinChannelRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    player_guid: c.player,
                    player_name: c.player_name.clone(),
                    team_id: c.team as i32,
                    channel_name: c.channel.clone(),
                    channel_id: id,
                    password: password.to_owned(),
                    channel_flags: u32::from(flags),
                },
                timeout_ms,
            )),
        )
        .await?;
        use v1::join_channel_response::Status;
        let refused = |kind| Ok(ChannelReply::Refused(kind));
        match Status::try_from(answer.status) {
            Ok(Status::Ok) => {
                let info = answer.channel.unwrap_or_default();
                Ok(ChannelReply::Joined {
                    id: info.channel_id,
                    flags: u8::try_from(info.flags).unwrap_or(flags),
                    member_flags: u8::try_from(info.member_flags).unwrap_or(0),
                })
            }
            Ok(Status::WrongPassword) => refused(channel_notify::WRONG_PASSWORD),
            Ok(Status::Banned) => refused(channel_notify::BANNED),
            Ok(Status::WrongFaction) => refused(channel_notify::WRONG_FACTION),
            Ok(Status::NotInArea) => refused(channel_notify::NOT_IN_AREA),
            Ok(Status::Throttled) => refused(channel_notify::THROTTLED),
            Err(_) => Err(unknown_status(RPC, answer.status)),
        }
    }

    async fn leave_channel(&self, c: &ChannelCall) -> Result<ChannelReply, SeamError> {
        const RPC: &str = "LeaveChannel";
        let timeout_ms = self.settings.chat_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.leave_channel(request(
                v1::LeaveChannelRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    player_guid: c.player,
                    channel_name: c.channel.clone(),
                    team_id: c.team as i32,
                },
                timeout_ms,
            )),
        )
        .await?;
        use v1::leave_channel_response::Status;
        match Status::try_from(answer.status) {
            Ok(Status::Ok) => Ok(ChannelReply::Done),
            Ok(Status::NotMember) => Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER)),
            Err(_) => Err(unknown_status(RPC, answer.status)),
        }
    }

    async fn send_channel_message(
        &self,
        c: &ChannelCall,
        language: u32,
        message: &str,
    ) -> Result<ChannelReply, SeamError> {
        const RPC: &str = "SendChannelMessage";
        let timeout_ms = self.settings.chat_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.send_channel_message(request(
                v1::SendChannelMessageRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    sender_guid: c.player,
                    sender_name: c.player_name.clone(),
                    channel_name: c.channel.clone(),
                    language,
                    message: message.to_owned(),
                    team_id: c.team as i32,
                },
                timeout_ms,
            )),
        )
        .await?;
        use v1::send_channel_message_response::Status;
        match Status::try_from(answer.status) {
            Ok(Status::Ok) => Ok(ChannelReply::Done),
            Ok(Status::NotMember) => Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER)),
            Ok(Status::Muted) => Ok(ChannelReply::Refused(channel_notify::MUTED)),
            Ok(Status::Throttled) => Ok(ChannelReply::Refused(channel_notify::THROTTLED)),
            Err(_) => Err(unknown_status(RPC, answer.status)),
        }
    }

    async fn channel_list(&self, c: &ChannelCall) -> Result<ChannelReply, SeamError> {
        const RPC: &str = "GetChannelList";
        let timeout_ms = self.settings.chat_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.get_channel_list(request(
                v1::GetChannelListRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    player_guid: c.player,
                    channel_name: c.channel.clone(),
                    team_id: c.team as i32,
                },
                timeout_ms,
            )),
        )
        .await?;
        use v1::get_channel_list_response::Status;
        match Status::try_from(answer.status) {
            Ok(Status::Ok) => Ok(ChannelReply::Members(
                answer
                    .members
                    .iter()
                    .map(|m| ChannelListMember {
                        guid: m.guid,
                        flags: u8::try_from(m.flags).unwrap_or(0),
                    })
                    .collect(),
            )),
            Ok(Status::NotMember) => Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER)),
            Err(_) => Err(unknown_status(RPC, answer.status)),
        }
    }
}

/// An answer whose status the contract does not have.
fn unknown_status(rpc: &'static str, status: i32) -> SeamError {
    bad_answer(SERVICE, rpc, format!("unknown status {status}"))
}
