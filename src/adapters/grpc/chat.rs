//! [`GrpcChat`]: presentation's chat calls over ToCloud9's `v1.ChatService`.
//!
//! - `SendWhisperMessage` for a whisper: `Ok` with the receiver's guid is delivered (chatserver
//!   publishes it on the receiver's gateway subject), `CharacterNotFound` is nobody online of
//!   that name. Any other status is a bad answer, and a failed call is a [`SeamError`]; the
//!   presenter hears both as a failed whisper.

use super::v1;
use super::v1::chat_service_client::ChatServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::present::chat::{Whisper, WhisperOutcome};
use crate::session::SeamError;

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
}
