//! Group commands over groupserver ([`GroupCall`]): `Invite`, `AcceptInvite`, `Uninvite`,
//! `Leave`, `ConvertToRaid`, `ChangeLeader`, `SetLootMethod`, `GetGroupByMember` (target
//! icons), `SetGroupTargetIcon`, `SetDungeonDifficulty`, `SetRaidDifficulty`, and the seed
//! PR's ready check calls (`StartReadyCheck`, `SetReadyCheckMemberState`,
//! `FinishReadyCheck`; UNIMPLEMENTED on an upstream groupserver is [`GroupReply::Unimplemented`]).
//! The name lookups before an invitation or a kick are charserver's
//! ([`GrpcCharacters::guid_by_name`]).

use super::super::{API_VERSION, GrpcCharacters, call, call_extension, request, v1};
use super::{GrpcGroups, SERVICE};
use crate::present::group::commands::{
    GroupCall, GroupOp, GroupReply, READY_CHECK_DURATION_MS, ReadyCheckStep, Whereabouts,
};
use crate::session::SeamError;
use crate::wire::packets::TARGET_ICONS;

impl GrpcGroups {
    /// Makes one group command call for `c.player`; a name lookup goes to `characters`.
    pub async fn command(
        &self,
        characters: &GrpcCharacters,
        c: &GroupCall,
    ) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let player = c.player;
        let mut client = self.client.clone();
        match &c.op {
            GroupOp::FindInvitee { name, .. } => Ok(GroupReply::Found(
                characters.guid_by_name(name, true).await?,
            )),
            GroupOp::FindKicked { name } | GroupOp::FindSubgroupMember { name, .. } => Ok(
                GroupReply::Found(characters.guid_by_name(name, false).await?),
            ),
            GroupOp::ReadyCheck(_)
            | GroupOp::SetSubgroup { .. }
            | GroupOp::SetMemberFlag { .. } => self.extension(player, &c.op).await,
            GroupOp::Invite {
                guid,
                name,
                inviter_name,
                at,
            } => self.invite(player, *guid, name, inviter_name, at).await,
            GroupOp::Accept => {
                let rpc = client.accept_invite(request(
                    v1::AcceptInviteParams {
                        api: api(),
                        realm_id,
                        player,
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "AcceptInvite", timeout_ms, rpc).await?;
                Ok(GroupReply::Accepted(answer.status))
            }
            GroupOp::Uninvite { guid, reason, .. } => {
                let rpc = client.uninvite(request(
                    v1::UninviteParams {
                        api: api(),
                        realm_id,
                        initiator: player,
                        target: *guid,
                        reason: reason.clone(),
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "Uninvite", timeout_ms, rpc).await?;
                Ok(GroupReply::Uninvited(answer.status))
            }
            GroupOp::Leave { .. } => {
                let rpc = client.leave(request(
                    v1::GroupLeaveParams {
                        api: api(),
                        realm_id,
                        player,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "Leave", timeout_ms, rpc).await?;
                Ok(GroupReply::Done)
            }
            GroupOp::ConvertToRaid => {
                let rpc = client.convert_to_raid(request(
                    v1::ConvertToRaidParams {
                        api: api(),
                        realm_id,
                        player,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "ConvertToRaid", timeout_ms, rpc).await?;
                Ok(GroupReply::Done)
            }
            GroupOp::SetLeader { guid } => {
                let rpc = client.change_leader(request(
                    v1::ChangeLeaderParams {
                        api: api(),
                        realm_id,
                        player,
                        new_leader: *guid,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "ChangeLeader", timeout_ms, rpc).await?;
                Ok(GroupReply::Done)
            }
            GroupOp::TargetIcons
            | GroupOp::SetTargetIcon { .. }
            | GroupOp::SetDifficulty { .. } => self.raid_call(player, &c.op).await,
            GroupOp::SetLoot(loot) => {
                let rpc = client.set_loot_method(request(
                    v1::SetLootMethodRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        method: loot.method,
                        loot_master: loot.looter,
                        loot_threshold: loot.threshold,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "SetLootMethod", timeout_ms, rpc).await?;
                Ok(GroupReply::Done)
            }
        }
    }

    /// The target icons and the difficulties (the calls a raid leader makes most).
    async fn raid_call(&self, player: u64, op: &GroupOp) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();
        match op {
            GroupOp::TargetIcons => {
                let rpc = client.get_group_by_member(request(
                    v1::GetGroupByMemberRequest {
                        api: api(),
                        realm_id,
                        player,
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "GetGroupByMember", timeout_ms, rpc).await?;
                let icons = answer
                    .group
                    .map(|g| g.target_icons_list.into_iter().take(TARGET_ICONS).collect())
                    .unwrap_or_default();
                Ok(GroupReply::Icons(icons))
            }
            GroupOp::SetTargetIcon { icon, target } => {
                let rpc = client.set_group_target_icon(request(
                    v1::SetGroupTargetIconRequest {
                        api: api(),
                        realm_id,
                        setter_guid: player,
                        icon_id: u32::from(*icon),
                        target_guid: *target,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "SetGroupTargetIcon", timeout_ms, rpc).await?;
                Ok(GroupReply::Done)
            }
            GroupOp::SetDifficulty {
                raid: false,
                difficulty,
            } => {
                let rpc = client.set_dungeon_difficulty(request(
                    v1::SetDungeonDifficultyRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        difficulty: *difficulty,
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "SetDungeonDifficulty", timeout_ms, rpc).await?;
                Ok(GroupReply::DifficultySet(answer.status))
            }
            GroupOp::SetDifficulty {
                raid: true,
                difficulty,
            } => {
                let rpc = client.set_raid_difficulty(request(
                    v1::SetRaidDifficultyRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        difficulty: *difficulty,
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "SetRaidDifficulty", timeout_ms, rpc).await?;
                Ok(GroupReply::DifficultySet(answer.status))
            }
            _ => Err(super::super::bad_answer(
                SERVICE,
                "raid_call",
                format!("not a raid call: {op:?}"),
            )),
        }
    }

    /// A ready check step of `player`'s.
    async fn ready_check(
        &self,
        player: u64,
        step: ReadyCheckStep,
    ) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = API_VERSION.to_owned();
        let mut client = self.client.clone();
        let done = match step {
            ReadyCheckStep::Start => {
                let rpc = client.start_ready_check(request(
                    v1::StartReadyCheckRequest {
                        api,
                        realm_id,
                        leader_guid: player,
                        duration_ms: READY_CHECK_DURATION_MS,
                    },
                    timeout_ms,
                ));
                call_extension(SERVICE, "StartReadyCheck", timeout_ms, rpc)
                    .await?
                    .is_some()
            }
            ReadyCheckStep::Answer(_) => {
                let rpc = client.set_ready_check_member_state(request(
                    v1::SetReadyCheckMemberStateRequest {
                        api,
                        realm_id,
                        member_guid: player,
                        state: step.state(),
                    },
                    timeout_ms,
                ));
                call_extension(SERVICE, "SetReadyCheckMemberState", timeout_ms, rpc)
                    .await?
                    .is_some()
            }
            ReadyCheckStep::Finish => {
                let rpc = client.finish_ready_check(request(
                    v1::FinishReadyCheckRequest {
                        api,
                        realm_id,
                        player_guid: player,
                    },
                    timeout_ms,
                ));
                call_extension(SERVICE, "FinishReadyCheck", timeout_ms, rpc)
                    .await?
                    .is_some()
            }
        };
        Ok(if done {
            GroupReply::Done
        } else {
            GroupReply::Unimplemented
        })
    }

    /// The seed PR's extensions (CONTRACTS.md section 7).
    async fn extension(&self, player: u64, op: &GroupOp) -> Result<GroupReply, SeamError> {
        match op {
            GroupOp::ReadyCheck(step) => self.ready_check(player, *step).await,
            GroupOp::SetSubgroup { guid, subgroup, .. } => {
                self.subgroup(player, *guid, *subgroup).await
            }
            GroupOp::SetMemberFlag {
                guid, flag, apply, ..
            } => self.member_flag(player, *guid, *flag, *apply).await,
            _ => Err(super::super::bad_answer(
                SERVICE,
                "extension",
                format!("not an extension: {op:?}"),
            )),
        }
    }

    /// `player` moves `guid` to `subgroup` (`ChangeMemberSubGroup`, the seed PR's extension).
    async fn subgroup(
        &self,
        player: u64,
        guid: u64,
        subgroup: u8,
    ) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let mut client = self.client.clone();
        let rpc = client.change_member_sub_group(request(
            v1::ChangeMemberSubGroupRequest {
                api: API_VERSION.to_owned(),
                realm_id: self.settings.realm_id,
                updater_guid: player,
                member_guid: guid,
                sub_group: u32::from(subgroup),
            },
            timeout_ms,
        ));
        let done = call_extension(SERVICE, "ChangeMemberSubGroup", timeout_ms, rpc).await?;
        Ok(done.map_or(GroupReply::Unimplemented, |_| GroupReply::Done))
    }

    /// `player` sets or clears one of `guid`'s member flags: its flags and roles as
    /// `GetGroupByMember` gives them, then `SetMemberFlags` (the seed PR's extension). A
    /// member the group does not list is left alone.
    async fn member_flag(
        &self,
        player: u64,
        guid: u64,
        flag: u8,
        apply: bool,
    ) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let mut client = self.client.clone();
        let rpc = client.get_group_by_member(request(
            v1::GetGroupByMemberRequest {
                api: API_VERSION.to_owned(),
                realm_id,
                player,
            },
            timeout_ms,
        ));
        let answer = call(SERVICE, "GetGroupByMember", timeout_ms, rpc).await?;
        let member = answer
            .group
            .and_then(|g| g.members.into_iter().find(|m| m.guid == guid));
        let Some(member) = member else {
            return Ok(GroupReply::Done);
        };
        let flags = if apply {
            member.flags | u32::from(flag)
        } else {
            member.flags & !u32::from(flag)
        };
        let rpc = client.set_member_flags(request(
            v1::SetMemberFlagsRequest {
                api: API_VERSION.to_owned(),
                realm_id,
                updater_guid: player,
                member_guid: guid,
                flags,
                roles: member.roles,
            },
            timeout_ms,
        ));
        let done = call_extension(SERVICE, "SetMemberFlags", timeout_ms, rpc).await?;
        Ok(done.map_or(GroupReply::Unimplemented, |_| GroupReply::Done))
    }

    /// `Invite`: `player` (`inviter_name`, at `at`) invites `guid` (`name`).
    async fn invite(
        &self,
        player: u64,
        guid: u64,
        name: &str,
        inviter_name: &str,
        at: &Whereabouts,
    ) -> Result<GroupReply, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();

        let rpc = client.invite(request(
            v1::InviteParams {
                api: api(),
                realm_id,
                inviter: player,
                invited: guid,
                inviter_name: inviter_name.to_owned(),
                invited_name: name.to_owned(),
                inviter_map_id: at.map,
                inviter_game_server_id: at.worldserver.clone(),
            },
            timeout_ms,
        ));
        let answer = call(SERVICE, "Invite", timeout_ms, rpc).await?;
        Ok(GroupReply::Invited(answer.status))
    }
}
