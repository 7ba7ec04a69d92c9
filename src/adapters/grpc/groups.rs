//! [`GrpcGroups`]: presentation's group calls over ToCloud9's `v1.GroupService`.
//!
//! - `GetGroupIDByPlayer` as a character enters the world ([`GrpcGroups::group_of`]).
//! - `GetGroup` for the list after a group event: the group as a [`GroupSnapshot`], checked
//!   (the id asked for, at most [`GROUP_MEMBERS_MAX`] members, byte-sized fields clamped,
//!   names cut at a NUL and at [`NAME_MAX_BYTES`]).
//! - `SendMessage` for a party or raid chat line: groupserver publishes it to the group's
//!   online members (`group.message.new`).
//! - the group commands (`commands.rs`): invite, accept, kick, leave, raid conversion, leader
//!   and loot method.

mod commands;

use super::v1;
use super::v1::group_service_client::GroupServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::present::group::{GroupMember, GroupMessage, GroupSnapshot};
use crate::session::SeamError;
use crate::wire::packets::{GROUP_MEMBERS_MAX, NAME_MAX_BYTES};

/// The service name in every [`SeamError`] of this adapter.
const SERVICE: &str = "group";

type Client = GroupServiceClient<tonic::transport::Channel>;

/// How to reach groupserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupsSettings {
    /// `host:port` of ToCloud9's groupserver (`groupServiceAddress`).
    pub address: String,
    /// The realm this gateway serves.
    pub realm_id: u32,
    /// Deadline of one call, connecting included.
    pub groups_call_timeout_ms: u64,
}

impl GroupsSettings {
    /// Settings with the default deadline.
    pub fn new(address: impl Into<String>, realm_id: u32) -> Self {
        Self {
            address: address.into(),
            realm_id,
            groups_call_timeout_ms: 4_000,
        }
    }
}

/// Presentation's group calls over ToCloud9's groupserver. Cloning shares the channel.
#[derive(Clone)]
pub struct GrpcGroups {
    settings: GroupsSettings,
    client: Client,
}

fn byte(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn name(s: &str) -> String {
    let s = s.split('\0').next().unwrap_or_default();
    let mut end = s.len().min(NAME_MAX_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl GrpcGroups {
    /// A client that connects on its first call. Needs a runtime (tokio, or madsim).
    pub fn connect(settings: GroupsSettings) -> Result<Self, SeamError> {
        let client = Client::new(lazy_channel(
            SERVICE,
            &settings.address,
            settings.groups_call_timeout_ms,
        )?);
        Ok(Self { settings, client })
    }

    /// Sends a group chat line (`SendMessage`).
    pub async fn send_message(&self, m: &GroupMessage) -> Result<(), SeamError> {
        const RPC: &str = "SendMessage";
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let mut client = self.client.clone();
        call(
            SERVICE,
            RPC,
            timeout_ms,
            client.send_message(request(
                v1::SendGroupMessageParams {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    sender_guid: m.sender,
                    message_type: u32::from(m.kind),
                    message: m.message.clone(),
                    language: m.language,
                },
                timeout_ms,
            )),
        )
        .await
        .map(|_| ())
    }

    /// The group groupserver has `player` in (`GetGroupIDByPlayer`; 0: none).
    pub async fn group_of(&self, player: u64) -> Result<u64, SeamError> {
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let mut client = self.client.clone();
        let rpc = client.get_group_id_by_player(request(
            v1::GetGroupIdByPlayerRequest {
                api: API_VERSION.into(),
                realm_id: self.settings.realm_id,
                player,
            },
            timeout_ms,
        ));
        let answer = call(SERVICE, "GetGroupIDByPlayer", timeout_ms, rpc).await?;
        Ok(u64::from(answer.group_id))
    }

    /// The group `id` (`GetGroup`).
    pub async fn get_group(&self, id: u64) -> Result<GroupSnapshot, SeamError> {
        const RPC: &str = "GetGroup";
        let Ok(group_id) = u32::try_from(id) else {
            return Err(bad_answer(
                SERVICE,
                RPC,
                format!("group id {id} is over u32"),
            ));
        };
        let timeout_ms = self.settings.groups_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.get_group(request(
                v1::GetGroupRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                    group_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let Some(g) = answer.group else {
            return Err(bad_answer(SERVICE, RPC, format!("no group {id}")));
        };
        if g.id != group_id {
            return Err(bad_answer(
                SERVICE,
                RPC,
                format!("asked for group {id}, got {}", g.id),
            ));
        }
        Ok(GroupSnapshot {
            id,
            leader: g.leader,
            group_type: byte(g.group_type),
            loot_method: byte(g.loot_method),
            loot_threshold: byte(g.loot_threshold),
            master_looter: g.master_looter,
            difficulty: byte(g.difficulty),
            raid_difficulty: byte(g.raid_difficulty),
            members: g
                .members
                .iter()
                .take(GROUP_MEMBERS_MAX)
                .map(|m| GroupMember {
                    guid: m.guid,
                    name: name(&m.name),
                    online: m.is_online,
                    subgroup: byte(m.sub_group),
                    flags: byte(m.flags),
                    roles: byte(m.roles),
                })
                .collect(),
        })
    }
}
