//! A fake chatserver, guildserver and groupserver: whispers, guild chat and group members'
//! state between the characters in world on a realm's gateways, in process (the simulator's
//! `chat_service` scenarios and `waygate demo` run it).
//!
//! It stands in for ToCloud9's services behind the gateway's `PresentServices` seam. A
//! request takes `latency_ms` to arrive and its answer `latency_ms` to come back.
//! - A whisper's receiver is looked up by name (as charserver knows the characters) and its
//!   event (`chat.gw.{gateway}.income.whisper`, ToCloud9's payload) is put straight into the
//!   inbox of the gateway that has the character in world, as that gateway's NATS subscriber
//!   would. The answer: delivered, the receiver not in world anywhere, or failed when the
//!   receiver's inbox was full.
//! - A guild line becomes `guild.message.new` for every member of the sender's guild in world
//!   on any gateway (the sender included, as guildserver sends it); the answer is taken, or
//!   failed for a sender in no guild.
//! - As the gateways' event bus, it is groupserver hearing `gw.char.*`: a character's login,
//!   logout and state changes (`gw.char.chars-updates`, taken one by one rather than in the
//!   adapter's batches) become `group.members.updated` for the other members of its group in
//!   world on any gateway, with groupserver's keys (`IsOnline`, `Level`, `Zone`, `CurHP`,
//!   `MaxHP`, `PowerType`, `CurPower`, `MaxPower`; absent ones left out).
//!
//! Every other call fails (a group lookup among them: the players' clients are not told of
//! their group, only of its members' state).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::driver::{Delivery, Gateway};
use crate::present::chat::{Whisper, WhisperOutcome};
use crate::present::guild::GuildMessage;
use crate::present::state::CharacterUpdate;
use crate::present::{ClusterEvent, ServiceAnswer, ServiceRequest};
use crate::runtime::{BoxFuture, EventBus, PresentServices};
use crate::session::{Announcement, CharacterGuid};

/// Where a gateway is, once it is built.
pub type GatewaySlot = Arc<Mutex<Option<Arc<Gateway>>>>;

/// The services.
pub struct FakeServices {
    /// The realm's gateways, by index (their ids in subjects).
    pub gateways: Vec<GatewaySlot>,
    /// Every character of the realm: name to guid.
    pub characters: BTreeMap<String, u64>,
    /// Guild members: character guid to guild id.
    pub guilds: BTreeMap<u64, u64>,
    /// Group members: character guid to group id.
    pub groups: BTreeMap<u64, u64>,
    /// One way, request or answer.
    pub latency_ms: u64,
}

impl FakeServices {
    fn gateways(&self) -> impl Iterator<Item = (usize, Arc<Gateway>)> + '_ {
        self.gateways.iter().enumerate().filter_map(|(g, slot)| {
            let gateway = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            gateway.map(|gw| (g, gw))
        })
    }

    /// `guild.message.new` for every member in world; `Err` for a sender in no guild.
    fn guild_line(&self, m: &GuildMessage) -> Result<(), String> {
        let Some(&guild) = self.guilds.get(&m.sender) else {
            return Err(format!("character {} is in no guild", m.sender));
        };
        let members: Vec<u64> = (self.guilds.iter())
            .filter(|(_, g)| **g == guild)
            .map(|(guid, _)| *guid)
            .collect();
        let payload = Bytes::from(
            serde_json::json!({
                "ServiceID": "fake",
                "RealmID": 1,
                "GuildID": guild,
                "SenderGUID": m.sender,
                "SenderName": "",
                "Language": m.language,
                "Msg": m.message,
                "ForOfficers": m.officer,
                "Receivers": members,
            })
            .to_string(),
        );
        self.deliver_to(&members, "guild.message.new", &payload);
        Ok(())
    }

    /// Puts an event into the inbox of each of `members` in world on any gateway (the rest
    /// miss it, as a NATS subscriber finds nobody to hand it to).
    fn deliver_to(&self, members: &[u64], subject: &str, payload: &Bytes) {
        for (_, gateway) in self.gateways() {
            for guid in members {
                let event = ClusterEvent {
                    subject: subject.into(),
                    payload: payload.clone(),
                };
                let _ = gateway.players().deliver(CharacterGuid(*guid), event);
            }
        }
    }

    fn route(&self, w: &Whisper) -> WhisperOutcome {
        let Some(&guid) = self.characters.get(&w.receiver_name) else {
            return WhisperOutcome::NotFound;
        };
        for (g, gateway) in self.gateways() {
            let event = ClusterEvent {
                subject: format!("chat.gw.{g}.income.whisper"),
                payload: payload(w, guid),
            };
            match gateway.players().deliver(CharacterGuid(guid), event) {
                Delivery::Queued => return WhisperOutcome::Delivered { receiver: guid },
                Delivery::Dropped => {
                    return WhisperOutcome::Failed(format!(
                        "gateway {g} dropped it: the receiver's queue is full"
                    ));
                }
                Delivery::NotHere => {}
            }
        }
        WhisperOutcome::NotFound
    }
}

impl EventBus for FakeServices {
    fn publish(&self, announcement: Announcement) {
        let (guid, update) = match &announcement {
            Announcement::CharacterUpdated(u) => (u.guid, member_update(u)),
            Announcement::LoggedIn { character, .. } => {
                let guid = character.guid.0;
                (
                    guid,
                    serde_json::json!({ "MemberGUID": guid, "IsOnline": true }),
                )
            }
            Announcement::LoggedOut { guid, .. } => {
                let guid = guid.0;
                (
                    guid,
                    serde_json::json!({ "MemberGUID": guid, "IsOnline": false }),
                )
            }
            Announcement::ChannelMembership { .. } => return,
        };
        let Some(&group) = self.groups.get(&guid) else {
            return;
        };
        let members: Vec<u64> = (self.groups.iter())
            .filter(|(g, id)| **id == group && **g != guid)
            .map(|(g, _)| *g)
            .collect();
        let payload = Bytes::from(
            serde_json::json!({
                "ServiceID": "fake",
                "RealmID": 1,
                "GroupID": group,
                "Updates": [update],
                "Receivers": members,
            })
            .to_string(),
        );
        self.deliver_to(&members, "group.members.updated", &payload);
    }
}

/// groupserver's `GroupMemberStatsUpdate` for a character's changes (online: it changed).
fn member_update(u: &CharacterUpdate) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("MemberGUID".into(), u.guid.into());
    o.insert("IsOnline".into(), true.into());
    let fields = [
        ("Level", u.level.map(u32::from)),
        ("Zone", u.zone),
        ("CurHP", u.health),
        ("MaxHP", u.max_health),
        ("PowerType", u.power_type.map(u32::from)),
        ("CurPower", u.power),
        ("MaxPower", u.max_power),
    ];
    for (key, value) in fields {
        if let Some(v) = value {
            o.insert(key.into(), v.into());
        }
    }
    serde_json::Value::Object(o)
}

/// `ChatEventIncomingWhisperPayload`.
fn payload(w: &Whisper, receiver: u64) -> Bytes {
    let value = serde_json::json!({
        "SenderGUID": w.sender,
        "SenderName": w.sender_name,
        "SenderRace": w.sender_race,
        "ReceiverGUID": receiver,
        "ReceiverName": w.receiver_name,
        "Language": w.language,
        "Msg": w.message,
    });
    Bytes::from(value.to_string())
}

impl PresentServices for FakeServices {
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer> {
        Box::pin(async move {
            let latency = Duration::from_millis(self.latency_ms);
            let answer = match request {
                ServiceRequest::Whisper(whisper) => {
                    tokio::time::sleep(latency).await;
                    let outcome = self.route(&whisper);
                    ServiceAnswer::Whisper { whisper, outcome }
                }
                ServiceRequest::GuildMessage(message) => {
                    tokio::time::sleep(latency).await;
                    let outcome = self.guild_line(&message);
                    ServiceAnswer::GuildMessage { message, outcome }
                }
                other => {
                    let service = other.service();
                    return other.failed(format!("no {service} service among the fakes"));
                }
            };
            tokio::time::sleep(latency).await;
            answer
        })
    }
}
