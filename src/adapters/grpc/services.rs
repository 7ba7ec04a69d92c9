//! [`GrpcServices`]: the services presentation calls, over ToCloud9's gRPC, behind the
//! [`PresentServices`] seam. Every failure becomes the request's failed answer (its detail
//! names the service and the RPC, for the log).

use super::{GrpcCharacters, GrpcChat, GrpcGroups, GrpcGuilds};
use crate::present::chat::WhisperOutcome;
use crate::present::{ServiceAnswer, ServiceRequest};
use crate::runtime::{BoxFuture, PresentServices};

/// The services presentation calls.
#[derive(Clone)]
pub struct GrpcServices {
    /// chatserver.
    pub chat: GrpcChat,
    /// guildserver.
    pub guilds: GrpcGuilds,
    /// charserver (/who).
    pub characters: GrpcCharacters,
    /// groupserver.
    pub groups: GrpcGroups,
}

impl PresentServices for GrpcServices {
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer> {
        Box::pin(async move {
            match request {
                ServiceRequest::Whisper(whisper) => {
                    let outcome = self
                        .chat
                        .whisper(&whisper)
                        .await
                        .unwrap_or_else(|e| WhisperOutcome::Failed(e.to_string()));
                    ServiceAnswer::Whisper { whisper, outcome }
                }
                ServiceRequest::GuildMessage(message) => {
                    let outcome = self
                        .guilds
                        .send_message(&message)
                        .await
                        .map_err(|e| e.to_string());
                    ServiceAnswer::GuildMessage { message, outcome }
                }
                ServiceRequest::GuildRoster(id) => {
                    let now_unix = i64::from(crate::runtime::Clock::new().unix_secs());
                    ServiceAnswer::GuildRoster(
                        self.guilds
                            .roster(id, now_unix)
                            .await
                            .map_err(|e| e.to_string()),
                    )
                }
                ServiceRequest::GroupMessage(message) => {
                    let outcome = self
                        .groups
                        .send_message(&message)
                        .await
                        .map_err(|e| e.to_string());
                    ServiceAnswer::GroupMessage { message, outcome }
                }
                ServiceRequest::GroupOf(player) => ServiceAnswer::GroupOf(
                    self.groups
                        .group_of(player)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                ServiceRequest::GetGroup(id) => {
                    ServiceAnswer::Group(self.groups.get_group(id).await.map_err(|e| e.to_string()))
                }
                ServiceRequest::GuildCommand(call) => {
                    let outcome = self
                        .guilds
                        .command(&self.characters, &call)
                        .await
                        .map_err(|e| e.to_string());
                    ServiceAnswer::GuildCommand { call, outcome }
                }
                ServiceRequest::GroupCommand(call) => {
                    let outcome = self
                        .groups
                        .command(&self.characters, &call)
                        .await
                        .map_err(|e| e.to_string());
                    ServiceAnswer::GroupCommand { call, outcome }
                }
                ServiceRequest::Contacts(call) => {
                    let outcome = self
                        .characters
                        .contacts(&call)
                        .await
                        .map_err(|e| e.to_string());
                    ServiceAnswer::Contacts { call, outcome }
                }
                ServiceRequest::Channel(call) => {
                    let outcome = self.chat.channel(&call).await.map_err(|e| e.to_string());
                    ServiceAnswer::Channel { call, outcome }
                }
                ServiceRequest::Who(q) => ServiceAnswer::Who(
                    self.characters
                        .who(q.asker, &q.request)
                        .await
                        .map_err(|e| e.to_string()),
                ),
            }
        })
    }
}
