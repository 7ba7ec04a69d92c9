//! In-process fakes of ToCloud9's servers-registry, charserver, chatserver, guildserver and groupserver (tonic servers on
//! loopback), shared by the adapter tests and the ToCloud9-mode end-to-end test.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tonic::{Request, Response, Status};
use waygate::adapters::grpc::v1;
use waygate::adapters::grpc::v1::characters_service_server::{
    CharactersService, CharactersServiceServer,
};
use waygate::adapters::grpc::v1::chat_service_server::{ChatService, ChatServiceServer};
use waygate::adapters::grpc::v1::group_service_server::{GroupService, GroupServiceServer};
use waygate::adapters::grpc::v1::guild_service_server::{GuildService, GuildServiceServer};
use waygate::adapters::grpc::v1::servers_registry_service_server::{
    ServersRegistryService, ServersRegistryServiceServer,
};

/// Stopping a fake server ends by this.
const STOP_DEADLINE_MS: u64 = 10_000;

// ---------------------------------------------------------------------------------------
// A servers-registry.

#[derive(Default)]
pub struct RegistryData {
    /// RegisterGateway fails with UNAVAILABLE this many times first.
    pub fail_registrations: u32,
    /// ... or always with this code.
    pub refuse_registrations: Option<tonic::Code>,
    pub register_requests: Vec<v1::RegisterGatewayRequest>,
    pub next_gateway_id: u32,
    pub gateways: Vec<v1::GatewayServerDetailed>,
    pub game_servers: Vec<v1::GameServerDetailed>,
    /// (worldserver id, map): assigned but not loaded yet.
    pub pending: BTreeSet<(String, u32)>,
    pub availability_questions: Vec<v1::AvailableGameServersForMapAndRealmRequest>,
    pub layers: Vec<v1::MapLayerConfiguration>,
}

#[derive(Clone, Default)]
pub struct FakeRegistry(pub Arc<Mutex<RegistryData>>);

impl FakeRegistry {
    pub fn data(&self) -> std::sync::MutexGuard<'_, RegistryData> {
        self.0.lock().expect("fake registry lock")
    }
}

#[tonic::async_trait]
impl ServersRegistryService for FakeRegistry {
    async fn register_gateway(
        &self,
        request: Request<v1::RegisterGatewayRequest>,
    ) -> Result<Response<v1::RegisterGatewayResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.register_requests.push(r.clone());
        if let Some(code) = d.refuse_registrations {
            return Err(Status::new(code, "refused"));
        }
        if d.fail_registrations > 0 {
            d.fail_registrations -= 1;
            return Err(Status::unavailable("not yet"));
        }
        d.next_gateway_id += 1;
        let id = d.next_gateway_id.to_string();
        d.gateways.push(v1::GatewayServerDetailed {
            id: id.clone(),
            address: format!("{}:{}", r.preferred_host_name, r.game_port),
            health_address: format!("127.0.0.1:{}", r.health_port),
            realm_id: r.realm_id,
            active_connections: 0,
        });
        Ok(Response::new(v1::RegisterGatewayResponse {
            api: "0.0.1".into(),
            id,
        }))
    }

    async fn list_gateways_for_realm(
        &self,
        request: Request<v1::ListGatewaysForRealmRequest>,
    ) -> Result<Response<v1::ListGatewaysForRealmResponse>, Status> {
        let realm = request.into_inner().realm_id;
        let gateways = self
            .data()
            .gateways
            .iter()
            .filter(|g| g.realm_id == realm)
            .cloned()
            .collect();
        Ok(Response::new(v1::ListGatewaysForRealmResponse {
            api: "0.0.1".into(),
            gateways,
        }))
    }

    async fn list_all_game_servers(
        &self,
        _request: Request<v1::ListAllGameServersRequest>,
    ) -> Result<Response<v1::ListGameServersResponse>, Status> {
        Ok(Response::new(v1::ListGameServersResponse {
            api: "0.0.1".into(),
            game_servers: self.data().game_servers.clone(),
        }))
    }

    /// As ToCloud9's: worldservers that can take the map now (assigned, not pending); for a
    /// realm, the preferred one only when one is named.
    async fn available_game_servers_for_map_and_realm(
        &self,
        request: Request<v1::AvailableGameServersForMapAndRealmRequest>,
    ) -> Result<Response<v1::AvailableGameServersForMapAndRealmResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.availability_questions.push(r.clone());
        let game_servers = d
            .game_servers
            .iter()
            .filter(|g| {
                g.is_cross_realm == r.is_cross_realm
                    && (r.is_cross_realm || g.realm_id == r.realm_id)
                    && g.assigned_maps.contains(&r.map_id)
                    && !d.pending.contains(&(g.id.clone(), r.map_id))
                    && (r.is_cross_realm
                        || r.preferred_game_server_alias.is_empty()
                        || g.address == r.preferred_game_server_alias)
            })
            .map(|g| v1::Server {
                address: g.address.clone(),
                realm_id: g.realm_id,
                is_cross_realm: g.is_cross_realm,
                grpc_address: g.grpc_address.clone(),
                id: g.id.clone(),
                alias: g.alias.clone(),
            })
            .collect();
        Ok(Response::new(
            v1::AvailableGameServersForMapAndRealmResponse {
                api: "0.0.1".into(),
                game_servers,
            },
        ))
    }

    async fn get_map_layer_configuration(
        &self,
        _request: Request<v1::GetMapLayerConfigurationRequest>,
    ) -> Result<Response<v1::GetMapLayerConfigurationResponse>, Status> {
        Ok(Response::new(v1::GetMapLayerConfigurationResponse {
            api: "0.0.1".into(),
            maps: self.data().layers.clone(),
        }))
    }
}

/// A running in-process server; dropping it does not stop it, [`Running::stop`] does.
pub struct Running {
    pub address: SocketAddr,
    pub stop: oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_millis(STOP_DEADLINE_MS), self.task)
            .await
            .expect("server stops in time")
            .expect("server task");
    }
}

pub async fn serve_registry(fake: FakeRegistry, at: Option<SocketAddr>) -> Running {
    let listener = tokio::net::TcpListener::bind(at.unwrap_or(([127, 0, 0, 1], 0).into()))
        .await
        .expect("bind");
    run(
        listener,
        tonic::transport::Server::builder().add_service(ServersRegistryServiceServer::new(fake)),
        "registry",
    )
}

/// Serves `router` on `listener` until [`Running::stop`].
fn run(
    listener: tokio::net::TcpListener,
    router: tonic::transport::server::Router,
    what: &'static str,
) -> Running {
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{what} serves: {e}"));
    });
    Running {
        address,
        stop,
        task,
    }
}

// ---------------------------------------------------------------------------------------
// A characters service.

#[derive(Default)]
pub struct CharactersData {
    /// (realm, character) -> stored character.
    pub stored: Vec<(u32, v1::LogInCharacter)>,
    /// Online characters (by realm and counter).
    pub online: Vec<v1::short_characters_data_by_gui_ds_response::ShortCharData>,
    pub account_data: Vec<v1::AccountData>,
    pub online_questions: Vec<v1::ShortCharactersDataByGuiDsRequest>,
    pub stored_questions: Vec<v1::CharactersToLoginByGuidRequest>,
    /// What /who finds: (total found, the items shown).
    pub who: (u32, Vec<v1::who_query_response::WhoItem>),
    pub who_questions: Vec<v1::WhoQueryRequest>,
    /// Friend lists: (player, friend, note), as charserver stores them.
    pub friends: Vec<(u64, u64, String)>,
    /// Ignore lists: (player, ignored).
    pub ignored: Vec<(u64, u64)>,
    /// Where online characters are, for friend lists: (guid, area, level, class).
    pub whereabouts: Vec<(u64, u32, u32, u32)>,
}

impl CharactersData {
    fn online_friend(&self, guid: u64) -> Option<(u32, u32, u32)> {
        self.whereabouts
            .iter()
            .find(|w| w.0 == guid)
            .map(|&(_, area, level, class)| (area, level, class))
    }
}

#[derive(Clone, Default)]
pub struct FakeCharacters(pub Arc<Mutex<CharactersData>>);

impl FakeCharacters {
    pub fn data(&self) -> std::sync::MutexGuard<'_, CharactersData> {
        self.0.lock().expect("fake characters lock")
    }
}

#[tonic::async_trait]
impl CharactersService for FakeCharacters {
    async fn who_query(
        &self,
        request: Request<v1::WhoQueryRequest>,
    ) -> Result<Response<v1::WhoQueryResponse>, Status> {
        let mut data = self.data();
        data.who_questions.push(request.into_inner());
        Ok(Response::new(v1::WhoQueryResponse {
            api: "0.0.1".into(),
            total_found: data.who.0,
            items_to_display: data.who.1.clone(),
        }))
    }

    async fn character_by_name(
        &self,
        request: Request<v1::CharacterByNameRequest>,
    ) -> Result<Response<v1::CharacterByNameResponse>, Status> {
        let r = request.into_inner();
        let character = self
            .data()
            .stored
            .iter()
            .find(|(realm, c)| *realm == r.realm_id && c.name == r.character_name)
            .map(|(realm, c)| v1::character_by_name_response::Char {
                realm_id: *realm,
                char_guid: c.guid,
                char_name: c.name.clone(),
                ..Default::default()
            });
        Ok(Response::new(v1::CharacterByNameResponse {
            api: "0.0.1".into(),
            character,
        }))
    }

    /// Online: a stored character with whereabouts.
    async fn character_online_by_name(
        &self,
        request: Request<v1::CharacterOnlineByNameRequest>,
    ) -> Result<Response<v1::CharacterOnlineByNameResponse>, Status> {
        let r = request.into_inner();
        let d = self.data();
        let character = d
            .stored
            .iter()
            .find(|(realm, c)| {
                *realm == r.realm_id
                    && c.name == r.character_name
                    && d.online_friend(c.guid).is_some()
            })
            .map(|(realm, c)| v1::character_online_by_name_response::Char {
                realm_id: *realm,
                char_guid: c.guid,
                char_name: c.name.clone(),
                ..Default::default()
            });
        Ok(Response::new(v1::CharacterOnlineByNameResponse {
            api: "0.0.1".into(),
            character,
        }))
    }

    async fn get_friends_list(
        &self,
        request: Request<v1::GetFriendsListRequest>,
    ) -> Result<Response<v1::GetFriendsListResponse>, Status> {
        let r = request.into_inner();
        let d = self.data();
        let friends = d
            .friends
            .iter()
            .filter(|f| f.0 == r.player_guid)
            .map(|(_, guid, note)| {
                let (area, level, class_id) = d.online_friend(*guid).unwrap_or_default();
                v1::get_friends_list_response::Friend {
                    guid: *guid,
                    note: note.clone(),
                    status: u32::from(d.online_friend(*guid).is_some()),
                    area,
                    level,
                    class_id,
                }
            })
            .collect();
        let ignored = d
            .ignored
            .iter()
            .filter(|i| i.0 == r.player_guid)
            .map(|i| v1::get_friends_list_response::IgnoredPlayer { guid: i.1 })
            .collect();
        Ok(Response::new(v1::GetFriendsListResponse {
            api: "0.0.1".into(),
            friends,
            ignored,
        }))
    }

    /// ToCloud9's rules and result codes: self 0x09, already 0x08, 50 friends 0x01, then
    /// added online 0x06 or offline 0x07.
    async fn add_friend(
        &self,
        request: Request<v1::AddFriendRequest>,
    ) -> Result<Response<v1::AddFriendResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        let mine = d.friends.iter().filter(|f| f.0 == r.player_guid).count();
        let mut answer = v1::AddFriendResponse {
            api: "0.0.1".into(),
            ..Default::default()
        };
        answer.result = if r.friend_guid == r.player_guid {
            0x09
        } else if d
            .friends
            .iter()
            .any(|f| f.0 == r.player_guid && f.1 == r.friend_guid)
        {
            0x08
        } else if mine >= 50 {
            0x01
        } else {
            d.friends
                .push((r.player_guid, r.friend_guid, r.note.clone()));
            match d.online_friend(r.friend_guid) {
                Some((area, level, class_id)) => {
                    (answer.status, answer.area, answer.level, answer.class_id) =
                        (1, area, level, class_id);
                    0x06
                }
                None => 0x07,
            }
        };
        Ok(Response::new(answer))
    }

    async fn remove_friend(
        &self,
        request: Request<v1::RemoveFriendRequest>,
    ) -> Result<Response<v1::RemoveFriendResponse>, Status> {
        let r = request.into_inner();
        self.data()
            .friends
            .retain(|f| !(f.0 == r.player_guid && f.1 == r.friend_guid));
        Ok(Response::new(v1::RemoveFriendResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_friend_note(
        &self,
        request: Request<v1::SetFriendNoteRequest>,
    ) -> Result<Response<v1::SetFriendNoteResponse>, Status> {
        let r = request.into_inner();
        for f in self.data().friends.iter_mut() {
            if f.0 == r.player_guid && f.1 == r.friend_guid {
                f.2 = r.note.clone();
            }
        }
        Ok(Response::new(v1::SetFriendNoteResponse {
            api: "0.0.1".into(),
        }))
    }

    /// ToCloud9's numbering: self 0x0B, already 0x0D, added 0x0E, full (50) 0x10.
    async fn add_ignore(
        &self,
        request: Request<v1::AddIgnoreRequest>,
    ) -> Result<Response<v1::AddIgnoreResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        let mine = d.ignored.iter().filter(|i| i.0 == r.player_guid).count();
        let result = if r.ignored_guid == r.player_guid {
            0x0B
        } else if d.ignored.contains(&(r.player_guid, r.ignored_guid)) {
            0x0D
        } else if mine >= 50 {
            0x10
        } else {
            d.ignored.push((r.player_guid, r.ignored_guid));
            0x0E
        };
        Ok(Response::new(v1::AddIgnoreResponse {
            api: "0.0.1".into(),
            result,
        }))
    }

    async fn remove_ignore(
        &self,
        request: Request<v1::RemoveIgnoreRequest>,
    ) -> Result<Response<v1::RemoveIgnoreResponse>, Status> {
        let r = request.into_inner();
        self.data()
            .ignored
            .retain(|i| *i != (r.player_guid, r.ignored_guid));
        Ok(Response::new(v1::RemoveIgnoreResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn characters_to_login_for_account(
        &self,
        request: Request<v1::CharactersToLoginForAccountRequest>,
    ) -> Result<Response<v1::CharactersToLoginForAccountResponse>, Status> {
        let r = request.into_inner();
        let characters = self
            .data()
            .stored
            .iter()
            .filter(|(realm, c)| *realm == r.realm_id && c.account_id == r.account_id)
            .map(|(_, c)| c.clone())
            .collect();
        Ok(Response::new(v1::CharactersToLoginForAccountResponse {
            api: "0.0.1".into(),
            characters,
        }))
    }

    async fn characters_to_login_by_guid(
        &self,
        request: Request<v1::CharactersToLoginByGuidRequest>,
    ) -> Result<Response<v1::CharactersToLoginByGuidResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.stored_questions.push(r.clone());
        let character = d
            .stored
            .iter()
            .find(|(realm, c)| *realm == r.realm_id && c.guid == r.character_guid)
            .map(|(_, c)| c.clone());
        Ok(Response::new(v1::CharactersToLoginByGuidResponse {
            api: "0.0.1".into(),
            character,
        }))
    }

    async fn short_online_characters_data_by_gui_ds(
        &self,
        request: Request<v1::ShortCharactersDataByGuiDsRequest>,
    ) -> Result<Response<v1::ShortCharactersDataByGuiDsResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.online_questions.push(r.clone());
        let characters = d
            .online
            .iter()
            .filter(|c| c.realm_id == r.realm_id && r.gui_ds.contains(&c.char_guid))
            .cloned()
            .collect();
        Ok(Response::new(v1::ShortCharactersDataByGuiDsResponse {
            api: "0.0.1".into(),
            characters,
        }))
    }

    async fn account_data_for_account(
        &self,
        _request: Request<v1::AccountDataForAccountRequest>,
    ) -> Result<Response<v1::AccountDataForAccountResponse>, Status> {
        Ok(Response::new(v1::AccountDataForAccountResponse {
            api: "0.0.1".into(),
            account_data: self.data().account_data.clone(),
        }))
    }
}

pub async fn serve_characters(fake: FakeCharacters) -> Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    run(
        listener,
        tonic::transport::Server::builder().add_service(CharactersServiceServer::new(fake)),
        "characters",
    )
}

// ---------------------------------------------------------------------------------------
// A chat service.

#[derive(Default)]
pub struct ChatData {
    /// Who is online: name -> guid.
    pub online: Vec<(String, u64)>,
    /// Answer every whisper with this status value instead (an unknown one, say).
    pub status_override: Option<i32>,
    pub whispers: Vec<v1::SendWhisperMessageRequest>,
    /// Channels as chatserver keys them: (lower-cased name, team) -> members (guid, name,
    /// member flags); the first member owns it.
    pub channels: std::collections::BTreeMap<(String, i32), Vec<ChannelMember>>,
    /// The channel calls, in order: "join Pugs 1 id=0 flags=1 pw=", "say Pugs 7 lfm",
    /// "list Pugs", "leave Pugs".
    pub channel_calls: Vec<String>,
}

/// A member of a fake chatserver channel: guid, name, member flags.
pub type ChannelMember = (u64, String, u32);

impl ChatData {
    fn members(&mut self, name: &str, team: i32) -> Option<&mut Vec<ChannelMember>> {
        self.channels.get_mut(&(name.to_lowercase(), team))
    }
}

#[derive(Clone, Default)]
pub struct FakeChat(pub Arc<Mutex<ChatData>>);

impl FakeChat {
    pub fn data(&self) -> std::sync::MutexGuard<'_, ChatData> {
        self.0.lock().expect("fake chat lock")
    }
}

#[tonic::async_trait]
impl ChatService for FakeChat {
    async fn send_whisper_message(
        &self,
        request: Request<v1::SendWhisperMessageRequest>,
    ) -> Result<Response<v1::SendWhisperMessageResponse>, Status> {
        use v1::send_whisper_message_response::Status as Whisper;
        let r = request.into_inner();
        let mut data = self.data();
        let receiver = data
            .online
            .iter()
            .find(|(name, _)| *name == r.receiver_name)
            .map(|(_, guid)| *guid);
        data.whispers.push(r);
        let status = data.status_override.unwrap_or(match receiver {
            Some(_) => Whisper::Ok as i32,
            None => Whisper::CharacterNotFound as i32,
        });
        Ok(Response::new(v1::SendWhisperMessageResponse {
            api: "0.0.1".into(),
            status,
            receiver_guid: receiver.unwrap_or(0),
        }))
    }

    async fn join_channel(
        &self,
        request: Request<v1::JoinChannelRequest>,
    ) -> Result<Response<v1::JoinChannelResponse>, Status> {
        let r = request.into_inner();
        let mut data = self.data();
        data.channel_calls.push(format!(
            "join {} {} id={} flags={} pw={}",
            r.channel_name, r.team_id, r.channel_id, r.channel_flags, r.password
        ));
        let members = data
            .channels
            .entry((r.channel_name.to_lowercase(), r.team_id))
            .or_default();
        let member_flags = if members.is_empty() { 0x03 } else { 0 };
        if !members.iter().any(|m| m.0 == r.player_guid) {
            members.push((r.player_guid, r.player_name.clone(), member_flags));
        }
        Ok(Response::new(v1::JoinChannelResponse {
            api: "0.0.1".into(),
            status: 0,
            channel: Some(v1::ChannelInfo {
                name: r.channel_name,
                channel_id: r.channel_id,
                flags: r.channel_flags,
                num_members: members.len() as u32,
                member_flags,
            }),
        }))
    }

    async fn leave_channel(
        &self,
        request: Request<v1::LeaveChannelRequest>,
    ) -> Result<Response<v1::LeaveChannelResponse>, Status> {
        let r = request.into_inner();
        let mut data = self.data();
        data.channel_calls.push(format!("leave {}", r.channel_name));
        let status = match data.members(&r.channel_name, r.team_id) {
            Some(members) if members.iter().any(|m| m.0 == r.player_guid) => {
                members.retain(|m| m.0 != r.player_guid);
                0
            }
            _ => 1,
        };
        Ok(Response::new(v1::LeaveChannelResponse {
            api: "0.0.1".into(),
            status,
        }))
    }

    async fn send_channel_message(
        &self,
        request: Request<v1::SendChannelMessageRequest>,
    ) -> Result<Response<v1::SendChannelMessageResponse>, Status> {
        let r = request.into_inner();
        let mut data = self.data();
        data.channel_calls.push(format!(
            "say {} {} {}",
            r.channel_name, r.language, r.message
        ));
        let member = data
            .members(&r.channel_name, r.team_id)
            .is_some_and(|m| m.iter().any(|m| m.0 == r.sender_guid));
        Ok(Response::new(v1::SendChannelMessageResponse {
            api: "0.0.1".into(),
            status: if member { 0 } else { 1 },
        }))
    }

    async fn get_channel_list(
        &self,
        request: Request<v1::GetChannelListRequest>,
    ) -> Result<Response<v1::GetChannelListResponse>, Status> {
        let r = request.into_inner();
        let mut data = self.data();
        data.channel_calls.push(format!("list {}", r.channel_name));
        let (status, members) = match data.members(&r.channel_name, r.team_id) {
            Some(members) if members.iter().any(|m| m.0 == r.player_guid) => (
                0,
                members
                    .iter()
                    .map(|(guid, name, flags)| v1::ChannelMember {
                        guid: *guid,
                        name: name.clone(),
                        flags: *flags,
                    })
                    .collect(),
            ),
            _ => (1, Vec::new()),
        };
        Ok(Response::new(v1::GetChannelListResponse {
            api: "0.0.1".into(),
            status,
            members,
        }))
    }
}

#[derive(Default)]
pub struct GuildsData {
    /// Refuse every call with this code.
    pub refuse: Option<tonic::Code>,
    pub messages: Vec<v1::SendGuildMessageParams>,
    pub rosters: Vec<v1::get_roster_info_response::Guild>,
    /// What `GetGuildInfo` knows.
    pub infos: Vec<v1::GetInfoResponse>,
    /// `InviteMember` refuses with this code.
    pub invite_refusal: Option<tonic::Code>,
    /// The guild `InviteAccepted` joins.
    pub joins: u64,
    /// The commands, in order: "invite 1 77 Bob", "accept 1 Eeto 80", "leave 1",
    /// "kick 1 77", "promote 1 77", "demote 1 77", "motd 1 text", "info 1 text",
    /// "note 1 77 text", "officer 1 77 text".
    pub commands: Vec<String>,
}

impl FakeGuilds {
    fn command(&self, line: String) -> Result<(), Status> {
        let mut d = self.data();
        if let Some(code) = d.refuse {
            return Err(Status::new(code, "refused"));
        }
        d.commands.push(line);
        Ok(())
    }
}

#[derive(Clone, Default)]
pub struct FakeGuilds(pub Arc<Mutex<GuildsData>>);

impl FakeGuilds {
    pub fn data(&self) -> std::sync::MutexGuard<'_, GuildsData> {
        self.0.lock().expect("fake guilds lock")
    }
}

#[tonic::async_trait]
impl GuildService for FakeGuilds {
    async fn get_guild_info(
        &self,
        request: Request<v1::GetInfoParams>,
    ) -> Result<Response<v1::GetInfoResponse>, Status> {
        let r = request.into_inner();
        let d = self.data();
        if let Some(code) = d.refuse {
            return Err(Status::new(code, "refused"));
        }
        d.infos
            .iter()
            .find(|i| i.guild_id == r.guild_id)
            .cloned()
            .map(Response::new)
            .ok_or_else(|| Status::not_found("no such guild"))
    }

    async fn invite_member(
        &self,
        request: Request<v1::InviteMemberParams>,
    ) -> Result<Response<v1::InviteMemberResponse>, Status> {
        let r = request.into_inner();
        if let Some(code) = self.data().invite_refusal {
            return Err(Status::new(code, "refused"));
        }
        self.command(format!(
            "invite {} {} {}",
            r.inviter, r.invitee, r.invitee_name
        ))?;
        Ok(Response::new(v1::InviteMemberResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn invite_accepted(
        &self,
        request: Request<v1::InviteAcceptedParams>,
    ) -> Result<Response<v1::InviteAcceptedResponse>, Status> {
        let c = request.into_inner().character.unwrap_or_default();
        self.command(format!("accept {} {} {}", c.guid, c.name, c.lvl))?;
        Ok(Response::new(v1::InviteAcceptedResponse {
            api: "0.0.1".into(),
            guild_id: self.data().joins,
        }))
    }

    async fn leave(
        &self,
        request: Request<v1::LeaveParams>,
    ) -> Result<Response<v1::LeaveResponse>, Status> {
        self.command(format!("leave {}", request.into_inner().leaver))?;
        Ok(Response::new(v1::LeaveResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn kick(
        &self,
        request: Request<v1::KickParams>,
    ) -> Result<Response<v1::KickResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("kick {} {}", r.kicker, r.target))?;
        Ok(Response::new(v1::KickResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn promote_member(
        &self,
        request: Request<v1::PromoteDemoteParams>,
    ) -> Result<Response<v1::PromoteDemoteResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("promote {} {}", r.changer_guid, r.target_guid))?;
        Ok(Response::new(v1::PromoteDemoteResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn demote_member(
        &self,
        request: Request<v1::PromoteDemoteParams>,
    ) -> Result<Response<v1::PromoteDemoteResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("demote {} {}", r.changer_guid, r.target_guid))?;
        Ok(Response::new(v1::PromoteDemoteResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_message_of_the_day(
        &self,
        request: Request<v1::SetMessageOfTheDayParams>,
    ) -> Result<Response<v1::SetMessageOfTheDayResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("motd {} {}", r.changer_guid, r.message_of_the_day))?;
        Ok(Response::new(v1::SetMessageOfTheDayResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_guild_info(
        &self,
        request: Request<v1::SetGuildInfoParams>,
    ) -> Result<Response<v1::SetGuildInfoResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("info {} {}", r.changer_guid, r.info))?;
        Ok(Response::new(v1::SetGuildInfoResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn update_rank(
        &self,
        request: Request<v1::RankUpdateParams>,
    ) -> Result<Response<v1::RankUpdateResponse>, Status> {
        let r = request.into_inner();
        self.command(format!(
            "rank {} {} {} {} {}",
            r.changer_guid, r.rank, r.rank_name, r.rights, r.money_per_day
        ))?;
        Ok(Response::new(v1::RankUpdateResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn add_rank(
        &self,
        request: Request<v1::AddRankParams>,
    ) -> Result<Response<v1::AddRankResponse>, Status> {
        let r = request.into_inner();
        self.command(format!("addrank {} {}", r.changer_guid, r.rank_name))?;
        Ok(Response::new(v1::AddRankResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn delete_last_rank(
        &self,
        request: Request<v1::DeleteLastRankParams>,
    ) -> Result<Response<v1::DeleteLastRankResponse>, Status> {
        self.command(format!("delrank {}", request.into_inner().changer_guid))?;
        Ok(Response::new(v1::DeleteLastRankResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_member_public_note(
        &self,
        request: Request<v1::SetNoteParams>,
    ) -> Result<Response<v1::SetNoteResponse>, Status> {
        let r = request.into_inner();
        self.command(format!(
            "note {} {} {}",
            r.changer_guid, r.target_guid, r.note
        ))?;
        Ok(Response::new(v1::SetNoteResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_member_officer_note(
        &self,
        request: Request<v1::SetNoteParams>,
    ) -> Result<Response<v1::SetNoteResponse>, Status> {
        let r = request.into_inner();
        self.command(format!(
            "officer {} {} {}",
            r.changer_guid, r.target_guid, r.note
        ))?;
        Ok(Response::new(v1::SetNoteResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn get_roster_info(
        &self,
        request: Request<v1::GetRosterInfoParams>,
    ) -> Result<Response<v1::GetRosterInfoResponse>, Status> {
        let id = request.into_inner().guild_id;
        let guild = self.data().rosters.iter().find(|g| g.id == id).cloned();
        Ok(Response::new(v1::GetRosterInfoResponse {
            api: "0.0.1".into(),
            guild,
        }))
    }

    async fn send_guild_message(
        &self,
        request: Request<v1::SendGuildMessageParams>,
    ) -> Result<Response<v1::SendGuildMessageResponse>, Status> {
        let mut data = self.data();
        if let Some(code) = data.refuse {
            return Err(Status::new(code, "refused by the fake"));
        }
        data.messages.push(request.into_inner());
        Ok(Response::new(v1::SendGuildMessageResponse {
            api: "0.0.1".into(),
        }))
    }
}

pub async fn serve_guilds(fake: FakeGuilds) -> Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    run(
        listener,
        tonic::transport::Server::builder().add_service(GuildServiceServer::new(fake)),
        "guilds",
    )
}

#[derive(Default)]
pub struct GroupsData {
    pub groups: Vec<v1::get_group_response::Group>,
    pub asked: Vec<v1::GetGroupRequest>,
    pub messages: Vec<v1::SendGroupMessageParams>,
    /// What `GetGroupIDByPlayer` answers: (player, group id); 0 for anyone else.
    pub player_groups: Vec<(u64, u32)>,
    /// Invitations asked for, and the status `Invite` answers (0 Ok).
    pub invites: Vec<v1::InviteParams>,
    pub invite_status: i32,
    /// The other commands, in order: "accept 1", "uninvite 1 77 afk", "leave 1",
    /// "raid 1", "leader 1 77", "loot 1 2 77 3", "ready-start 1 35000", "ready-state 1 2",
    /// "ready-finish 1", "subgroup 1 77 3", "flags 1 77 5 2".
    pub commands: Vec<String>,
    /// Whether it has the seed PR's extensions (ready checks, subgroups, member flags; else
    /// they answer UNIMPLEMENTED, as upstream groupserver does).
    pub ready_checks: bool,
}

#[derive(Clone, Default)]
pub struct FakeGroups(pub Arc<Mutex<GroupsData>>);

impl FakeGroups {
    pub fn data(&self) -> std::sync::MutexGuard<'_, GroupsData> {
        self.0.lock().expect("fake groups lock")
    }
}

impl FakeGroups {
    /// An extension call: recorded as `line` when the fake has them, else UNIMPLEMENTED.
    fn extension<T>(&self, line: String, answer: T) -> Result<Response<T>, Status> {
        let mut d = self.data();
        if !d.ready_checks {
            return Err(Status::unimplemented("no ready checks upstream"));
        }
        d.commands.push(line);
        Ok(Response::new(answer))
    }
}

#[tonic::async_trait]
impl GroupService for FakeGroups {
    async fn start_ready_check(
        &self,
        request: Request<v1::StartReadyCheckRequest>,
    ) -> Result<Response<v1::StartReadyCheckResponse>, Status> {
        let r = request.into_inner();
        let line = format!("ready-start {} {}", r.leader_guid, r.duration_ms);
        self.extension(
            line,
            v1::StartReadyCheckResponse {
                api: "0.0.1".into(),
            },
        )
    }

    async fn set_ready_check_member_state(
        &self,
        request: Request<v1::SetReadyCheckMemberStateRequest>,
    ) -> Result<Response<v1::SetReadyCheckMemberStateResponse>, Status> {
        let r = request.into_inner();
        let line = format!("ready-state {} {}", r.member_guid, r.state);
        let answer = v1::SetReadyCheckMemberStateResponse {
            api: "0.0.1".into(),
        };
        self.extension(line, answer)
    }

    async fn change_member_sub_group(
        &self,
        request: Request<v1::ChangeMemberSubGroupRequest>,
    ) -> Result<Response<v1::ChangeMemberSubGroupResponse>, Status> {
        let r = request.into_inner();
        let line = format!(
            "subgroup {} {} {}",
            r.updater_guid, r.member_guid, r.sub_group
        );
        let answer = v1::ChangeMemberSubGroupResponse {
            api: "0.0.1".into(),
        };
        self.extension(line, answer)
    }

    async fn set_member_flags(
        &self,
        request: Request<v1::SetMemberFlagsRequest>,
    ) -> Result<Response<v1::SetMemberFlagsResponse>, Status> {
        let r = request.into_inner();
        let line = format!(
            "flags {} {} {} {}",
            r.updater_guid, r.member_guid, r.flags, r.roles
        );
        self.extension(
            line,
            v1::SetMemberFlagsResponse {
                api: "0.0.1".into(),
            },
        )
    }

    async fn finish_ready_check(
        &self,
        request: Request<v1::FinishReadyCheckRequest>,
    ) -> Result<Response<v1::FinishReadyCheckResponse>, Status> {
        let r = request.into_inner();
        let line = format!("ready-finish {}", r.player_guid);
        self.extension(
            line,
            v1::FinishReadyCheckResponse {
                api: "0.0.1".into(),
            },
        )
    }

    async fn send_message(
        &self,
        request: Request<v1::SendGroupMessageParams>,
    ) -> Result<Response<v1::SendGroupMessageResponse>, Status> {
        self.data().messages.push(request.into_inner());
        Ok(Response::new(v1::SendGroupMessageResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn invite(
        &self,
        request: Request<v1::InviteParams>,
    ) -> Result<Response<v1::InviteResponse>, Status> {
        let mut d = self.data();
        d.invites.push(request.into_inner());
        Ok(Response::new(v1::InviteResponse {
            api: "0.0.1".into(),
            status: d.invite_status,
        }))
    }

    async fn get_group_id_by_player(
        &self,
        request: Request<v1::GetGroupIdByPlayerRequest>,
    ) -> Result<Response<v1::GetGroupIdByPlayerResponse>, Status> {
        let r = request.into_inner();
        let d = self.data();
        let group_id = d
            .player_groups
            .iter()
            .find(|(player, _)| *player == r.player)
            .map_or(0, |(_, id)| *id);
        Ok(Response::new(v1::GetGroupIdByPlayerResponse {
            api: "0.0.1".into(),
            group_id,
        }))
    }

    async fn get_group_by_member(
        &self,
        request: Request<v1::GetGroupByMemberRequest>,
    ) -> Result<Response<v1::GetGroupResponse>, Status> {
        let r = request.into_inner();
        let group = self
            .data()
            .groups
            .iter()
            .find(|g| g.members.iter().any(|m| m.guid == r.player))
            .cloned();
        Ok(Response::new(v1::GetGroupResponse {
            api: "0.0.1".into(),
            group,
        }))
    }

    async fn set_group_target_icon(
        &self,
        request: Request<v1::SetGroupTargetIconRequest>,
    ) -> Result<Response<v1::SetGroupTargetIconResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!(
            "icon {} {} {}",
            r.setter_guid, r.icon_id, r.target_guid
        ));
        Ok(Response::new(v1::SetGroupTargetIconResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_dungeon_difficulty(
        &self,
        request: Request<v1::SetDungeonDifficultyRequest>,
    ) -> Result<Response<v1::SetDungeonDifficultyResponse>, Status> {
        let r = request.into_inner();
        self.data()
            .commands
            .push(format!("dungeon {} {}", r.player_guid, r.difficulty));
        Ok(Response::new(v1::SetDungeonDifficultyResponse {
            api: "0.0.1".into(),
            status: 0,
        }))
    }

    async fn set_raid_difficulty(
        &self,
        request: Request<v1::SetRaidDifficultyRequest>,
    ) -> Result<Response<v1::SetRaidDifficultyResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!(
            "raid-difficulty {} {}",
            r.player_guid, r.difficulty
        ));
        Ok(Response::new(v1::SetRaidDifficultyResponse {
            api: "0.0.1".into(),
            status: 1,
        }))
    }

    async fn accept_invite(
        &self,
        request: Request<v1::AcceptInviteParams>,
    ) -> Result<Response<v1::AcceptInviteResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!("accept {}", r.player));
        Ok(Response::new(v1::AcceptInviteResponse {
            api: "0.0.1".into(),
            status: 0,
        }))
    }

    async fn uninvite(
        &self,
        request: Request<v1::UninviteParams>,
    ) -> Result<Response<v1::UninviteResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!(
            "uninvite {} {} {}",
            r.initiator, r.target, r.reason
        ));
        Ok(Response::new(v1::UninviteResponse {
            api: "0.0.1".into(),
            status: 0,
        }))
    }

    async fn leave(
        &self,
        request: Request<v1::GroupLeaveParams>,
    ) -> Result<Response<v1::GroupLeaveResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!("leave {}", r.player));
        Ok(Response::new(v1::GroupLeaveResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn convert_to_raid(
        &self,
        request: Request<v1::ConvertToRaidParams>,
    ) -> Result<Response<v1::ConvertToRaidResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!("raid {}", r.player));
        Ok(Response::new(v1::ConvertToRaidResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn change_leader(
        &self,
        request: Request<v1::ChangeLeaderParams>,
    ) -> Result<Response<v1::ChangeLeaderResponse>, Status> {
        let r = request.into_inner();
        self.data()
            .commands
            .push(format!("leader {} {}", r.player, r.new_leader));
        Ok(Response::new(v1::ChangeLeaderResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn set_loot_method(
        &self,
        request: Request<v1::SetLootMethodRequest>,
    ) -> Result<Response<v1::SetLootMethodResponse>, Status> {
        let r = request.into_inner();
        self.data().commands.push(format!(
            "loot {} {} {} {}",
            r.player_guid, r.method, r.loot_master, r.loot_threshold
        ));
        Ok(Response::new(v1::SetLootMethodResponse {
            api: "0.0.1".into(),
        }))
    }

    async fn get_group(
        &self,
        request: Request<v1::GetGroupRequest>,
    ) -> Result<Response<v1::GetGroupResponse>, Status> {
        let r = request.into_inner();
        let mut data = self.data();
        let group = data.groups.iter().find(|g| g.id == r.group_id).cloned();
        data.asked.push(r);
        Ok(Response::new(v1::GetGroupResponse {
            api: "0.0.1".into(),
            group,
        }))
    }
}

pub async fn serve_groups(fake: FakeGroups) -> Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    run(
        listener,
        tonic::transport::Server::builder().add_service(GroupServiceServer::new(fake)),
        "groups",
    )
}

pub async fn serve_chat(fake: FakeChat) -> Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    run(
        listener,
        tonic::transport::Server::builder().add_service(ChatServiceServer::new(fake)),
        "chat",
    )
}

pub fn stored(guid: u64, account: u32, name: &str) -> v1::LogInCharacter {
    v1::LogInCharacter {
        guid,
        name: name.into(),
        race: 2,
        class: 1,
        gender: 1,
        skin: 3,
        face: 4,
        hair_style: 5,
        hair_color: 6,
        facial_style: 7,
        level: 80,
        zone: 1637,
        map: 1,
        position_x: 1.5,
        position_y: -2.5,
        position_z: 30.0,
        guild_id: 9,
        player_flags: 0,
        at_login: 0,
        pet_entry: 0,
        pet_model_id: 0,
        pet_level: 0,
        banned: false,
        equipments: Vec::new(),
        account_id: account,
    }
}
