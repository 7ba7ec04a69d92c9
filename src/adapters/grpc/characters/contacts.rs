//! The friend and ignore list calls of presentation ([`ContactCall`]) over charserver:
//! `GetFriendsList`, `CharacterByName`, `AddFriend`, `RemoveFriend`, `SetFriendNote`,
//! `AddIgnore` and `RemoveIgnore`. A list longer than the client shows is cut here (its
//! limits, with room for both kinds); notes are cut as the client keeps them.

use super::super::v1;
use super::super::{API_VERSION, call, request};
use super::{GrpcCharacters, SERVICE};
use crate::present::contacts::{ContactCall, ContactOp, ContactReply, ListedFriend};
use crate::session::SeamError;
use crate::wire::packets::{CONTACTS_FRIENDS_MAX, CONTACTS_IGNORED_MAX, FriendOnline};

/// Entries of each kind kept from charserver's list: the client's limit, plus room for
/// entries that are both a friend and ignored.
const LISTED_MAX: usize = CONTACTS_FRIENDS_MAX + CONTACTS_IGNORED_MAX;

fn status(value: u32) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

impl GrpcCharacters {
    /// Makes one contact call for `c.player`.
    pub async fn contacts(&self, c: &ContactCall) -> Result<ContactReply, SeamError> {
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let player = c.player;
        let mut client = self.client.clone();
        match &c.op {
            ContactOp::List { .. } => self.friends_list(player).await,
            ContactOp::FindFriend { name, .. } | ContactOp::FindIgnore { name } => {
                Ok(ContactReply::Found(self.guid_by_name(name, false).await?))
            }
            ContactOp::AddFriend { guid, name, note } => {
                let rpc = client.add_friend(request(
                    v1::AddFriendRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        friend_guid: *guid,
                        friend_name: name.clone(),
                        note: note.clone(),
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "AddFriend", timeout_ms, rpc).await?;
                Ok(ContactReply::Added {
                    result: answer.result,
                    online: FriendOnline {
                        status: status(answer.status),
                        area: answer.area,
                        level: answer.level,
                        class: answer.class_id,
                    },
                })
            }
            ContactOp::RemoveFriend { guid } => {
                let rpc = client.remove_friend(request(
                    v1::RemoveFriendRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        friend_guid: *guid,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "RemoveFriend", timeout_ms, rpc).await?;
                Ok(ContactReply::Done)
            }
            ContactOp::SetNote { guid, note } => {
                let rpc = client.set_friend_note(request(
                    v1::SetFriendNoteRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        friend_guid: *guid,
                        note: note.clone(),
                    },
                    timeout_ms,
                ));
                call(SERVICE, "SetFriendNote", timeout_ms, rpc).await?;
                Ok(ContactReply::Done)
            }
            ContactOp::Ignore { guid } => {
                let rpc = client.add_ignore(request(
                    v1::AddIgnoreRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        ignored_guid: *guid,
                    },
                    timeout_ms,
                ));
                let answer = call(SERVICE, "AddIgnore", timeout_ms, rpc).await?;
                Ok(ContactReply::Ignored(answer.result))
            }
            ContactOp::Unignore { guid } => {
                let rpc = client.remove_ignore(request(
                    v1::RemoveIgnoreRequest {
                        api: api(),
                        realm_id,
                        player_guid: player,
                        ignored_guid: *guid,
                    },
                    timeout_ms,
                ));
                call(SERVICE, "RemoveIgnore", timeout_ms, rpc).await?;
                Ok(ContactReply::Done)
            }
        }
    }

    /// `GetFriendsList` for `player`, cut to what the client shows.
    async fn friends_list(&self, player: u64) -> Result<ContactReply, SeamError> {
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let api = || API_VERSION.to_owned();
        let mut client = self.client.clone();

        let rpc = client.get_friends_list(request(
            v1::GetFriendsListRequest {
                api: api(),
                realm_id,
                player_guid: player,
            },
            timeout_ms,
        ));
        let answer = call(SERVICE, "GetFriendsList", timeout_ms, rpc).await?;
        let friends = answer
            .friends
            .iter()
            .take(LISTED_MAX)
            .map(|f| ListedFriend {
                guid: f.guid,
                note: f.note.clone(),
                online: FriendOnline {
                    status: status(f.status),
                    area: f.area,
                    level: f.level,
                    class: f.class_id,
                },
            })
            .collect();
        let ignored = answer
            .ignored
            .iter()
            .take(LISTED_MAX)
            .map(|i| i.guid)
            .collect();
        Ok(ContactReply::List { friends, ignored })
    }
}
