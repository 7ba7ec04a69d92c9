//! Guild commands and the guild query over guildserver ([`GuildCall`]): `GetGuildInfo`,
//! `InviteMember`, `InviteAccepted`, `Leave`, `Kick`, `PromoteMember`, `DemoteMember`,
//! `SetMessageOfTheDay`, `SetGuildInfo`, `SetMemberPublicNote`, `SetMemberOfficerNote`,
//! `UpdateRank`, `AddRank`, `DeleteLastRank`, and `GetRosterInfo` for the permissions.
//! The name lookups before an invitation or a member command are charserver's
//! ([`GrpcCharacters::guid_by_name`]). `InviteMember` is the one call whose refusals
//! guildserver tells apart (as gRPC codes); they become the client's guild errors.

use std::time::Duration;

use super::super::{API_VERSION, GrpcCharacters, bad_answer, call, request, v1};
use super::{GrpcGuilds, SERVICE};
use crate::present::guild::commands::{GuildCall, GuildOp, GuildReply, MemberCommand};
use crate::session::SeamError;
use crate::wire::packets::{GUILD_RANKS_MAX, GuildQueryResponse, NAME_MAX_BYTES, guild_error};

fn clean(s: &str) -> String {
    let s = s.split('\0').next().unwrap_or_default();
    let mut end = s.len().min(NAME_MAX_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl GrpcGuilds {
    /// Makes one guild call for `c.player`; a name lookup goes to `characters`.
    pub async fn command(
        &self,
        characters: &GrpcCharacters,
        c: &GuildCall,
    ) -> Result<GuildReply, SeamError> {
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let player = c.player;
        let mut client = self.client.clone();
        match &c.op {
            GuildOp::Query { guild_id, .. } => self.query(*guild_id).await,
            GuildOp::UpdateRank { .. } | GuildOp::AddRank(_) | GuildOp::DeleteRank => {
                self.rank_call(player, &c.op).await
            }
            GuildOp::Permissions(guild_id) | GuildOp::LoginInfo(guild_id) => {
                let now_unix = i64::from(crate::runtime::Clock::new().unix_secs());
                let roster = self.roster(*guild_id, now_unix).await?;
                Ok(GuildReply::Roster(Box::new(roster)))
            }
            GuildOp::FindInvitee { name } => Ok(GuildReply::Found(
                characters.guid_by_name(name, true).await?,
            )),
            GuildOp::FindMember { name, .. } => Ok(GuildReply::Found(
                characters.guid_by_name(name, false).await?,
            )),
            GuildOp::Invite { guid, name } => self.invite(player, *guid, name).await,
            GuildOp::Accept(j) => {
                let rpc = client.invite_accepted(request(
                    v1::InviteAcceptedParams {
                        api: api(),
                        realm_id,
                        character: Some(v1::invite_accepted_params::Character {
                            guid: player,
                            name: j.name.clone(),
                            lvl: j.level,
                            race: j.race,
                            class_id: j.class,
                            gender: j.gender,
                            area_id: j.area,
                            account_id: j.account,
                        }),
                    },
                    timeout_ms,
                ));
                let a = call(SERVICE, "InviteAccepted", timeout_ms, rpc).await?;
                Ok(GuildReply::Joined(a.guild_id))
            }
            GuildOp::Leave => {
                let rpc = client.leave(request(
                    v1::LeaveParams {
                        api: api(),
                        realm_id,
                        leaver: player,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "Leave", timeout_ms, rpc).await?;
                Ok(GuildReply::Done)
            }
            GuildOp::Member {
                command,
                guid,
                note,
                ..
            } => {
                self.member(&mut client, player, *command, *guid, note)
                    .await?;
                Ok(GuildReply::Done)
            }
            GuildOp::Motd(text) => {
                let rpc = client.set_message_of_the_day(request(
                    v1::SetMessageOfTheDayParams {
                        api: api(),
                        realm_id,
                        changer_guid: player,
                        message_of_the_day: text.clone(),
                    },
                    timeout_ms,
                ));
                call(SERVICE, "SetMessageOfTheDay", timeout_ms, rpc).await?;
                Ok(GuildReply::Done)
            }
            GuildOp::Info(text) => {
                let rpc = client.set_guild_info(request(
                    v1::SetGuildInfoParams {
                        api: api(),
                        realm_id,
                        changer_guid: player,
                        info: text.clone(),
                    },
                    timeout_ms,
                ));
                call(SERVICE, "SetGuildInfo", timeout_ms, rpc).await?;
                Ok(GuildReply::Done)
            }
        }
    }

    /// `UpdateRank`, `AddRank` or `DeleteLastRank` by `player`.
    async fn rank_call(&self, player: u64, op: &GuildOp) -> Result<GuildReply, SeamError> {
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();
        match op {
            GuildOp::UpdateRank {
                rank,
                name,
                rights,
                gold_per_day,
            } => {
                let rpc = client.update_rank(request(
                    v1::RankUpdateParams {
                        api: api(),
                        realm_id,
                        changer_guid: player,
                        rank: *rank,
                        rank_name: name.clone(),
                        rights: *rights,
                        money_per_day: *gold_per_day,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "UpdateRank", timeout_ms, rpc).await?;
            }
            GuildOp::AddRank(name) => {
                let rpc = client.add_rank(request(
                    v1::AddRankParams {
                        api: api(),
                        realm_id,
                        changer_guid: player,
                        rank_name: name.clone(),
                    },
                    timeout_ms,
                ));
                call(SERVICE, "AddRank", timeout_ms, rpc).await?;
            }
            GuildOp::DeleteRank => {
                let rpc = client.delete_last_rank(request(
                    v1::DeleteLastRankParams {
                        api: api(),
                        realm_id,
                        changer_guid: player,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "DeleteLastRank", timeout_ms, rpc).await?;
            }
            other => {
                return Err(bad_answer(
                    SERVICE,
                    "rank_call",
                    format!("not a rank call: {other:?}"),
                ));
            }
        }
        Ok(GuildReply::Done)
    }

    /// `GetGuildInfo` for the client's guild query.
    async fn query(&self, guild_id: u32) -> Result<GuildReply, SeamError> {
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();
        let rpc = client.get_guild_info(request(
            v1::GetInfoParams {
                api: api(),
                realm_id,
                guild_id: u64::from(guild_id),
            },
            timeout_ms,
        ));
        let a = call(SERVICE, "GetGuildInfo", timeout_ms, rpc).await?;
        if a.guild_id != u64::from(guild_id) {
            return Err(bad_answer(
                SERVICE,
                "GetGuildInfo",
                format!("asked for guild {guild_id}, got {}", a.guild_id),
            ));
        }
        Ok(GuildReply::Info(Box::new(GuildQueryResponse {
            guild_id,
            name: clean(&a.guild_name),
            ranks: a
                .rank_names
                .iter()
                .take(GUILD_RANKS_MAX)
                .map(|r| clean(r))
                .collect(),
            emblem: [
                a.emblem_style,
                a.emblem_color,
                a.border_style,
                a.border_color,
                a.background_color,
            ],
        })))
    }

    /// `InviteMember`: its refusals (gRPC codes) as the client's guild errors.
    async fn invite(&self, player: u64, guid: u64, name: &str) -> Result<GuildReply, SeamError> {
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();
        let rpc = client.invite_member(request(
            v1::InviteMemberParams {
                api: api(),
                realm_id,
                inviter: player,
                invitee: guid,
                invitee_name: name.to_owned(),
            },
            timeout_ms,
        ));
        match tokio::time::timeout(Duration::from_millis(timeout_ms), rpc).await {
            Ok(Ok(_)) => Ok(GuildReply::Invited(guild_error::SUCCESS)),
            Ok(Err(status)) => match status.code() {
                tonic::Code::FailedPrecondition => {
                    Ok(GuildReply::Invited(guild_error::ALREADY_IN_GUILD_S))
                }
                tonic::Code::PermissionDenied => Ok(GuildReply::Invited(guild_error::PERMISSIONS)),
                tonic::Code::NotFound => Ok(GuildReply::Invited(guild_error::PLAYER_NOT_IN_GUILD)),
                _ => Err(super::super::status_error(SERVICE, "InviteMember", &status)),
            },
            Err(_) => Err(SeamError {
                service: SERVICE,
                detail: format!("InviteMember: no answer within {timeout_ms} ms"),
                retryable: true,
            }),
        }
    }

    /// `Kick`, `PromoteMember`, `DemoteMember`, `SetMemberPublicNote` or
    /// `SetMemberOfficerNote` by `player` on `target`.
    async fn member(
        &self,
        client: &mut super::Client,
        player: u64,
        command: MemberCommand,
        target: u64,
        note: &str,
    ) -> Result<(), SeamError> {
        let timeout_ms = self.settings.guilds_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = API_VERSION.to_owned();
        let changes = v1::PromoteDemoteParams {
            api: api.clone(),
            realm_id,
            changer_guid: player,
            target_guid: target,
        };
        let noted = v1::SetNoteParams {
            api: api.clone(),
            realm_id,
            changer_guid: player,
            target_guid: target,
            note: note.to_owned(),
        };
        match command {
            MemberCommand::Remove => {
                let kick = v1::KickParams {
                    api,
                    realm_id,
                    kicker: player,
                    target,
                };
                let rpc = client.kick(request(kick, timeout_ms));
                call(SERVICE, "Kick", timeout_ms, rpc).await.map(|_| ())
            }
            MemberCommand::Promote => {
                let rpc = client.promote_member(request(changes, timeout_ms));
                call(SERVICE, "PromoteMember", timeout_ms, rpc)
                    .await
                    .map(|_| ())
            }
            MemberCommand::Demote => {
                let rpc = client.demote_member(request(changes, timeout_ms));
                call(SERVICE, "DemoteMember", timeout_ms, rpc)
                    .await
                    .map(|_| ())
            }
            MemberCommand::PublicNote => {
                let rpc = client.set_member_public_note(request(noted, timeout_ms));
                call(SERVICE, "SetMemberPublicNote", timeout_ms, rpc)
                    .await
                    .map(|_| ())
            }
            MemberCommand::OfficerNote => {
                let rpc = client.set_member_officer_note(request(noted, timeout_ms));
                call(SERVICE, "SetMemberOfficerNote", timeout_ms, rpc)
                    .await
                    .map(|_| ())
            }
        }
    }
}
