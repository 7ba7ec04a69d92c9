//! [`GrpcCharacters`]: the characters seam over ToCloud9's `v1.CharactersService`.
//!
//! - `list`: `CharactersToLoginForAccount` for this realm.
//! - `name`: as ToCloud9's gateway resolves a name query: `ShortOnlineCharactersDataByGUIDs`
//!   (characters online anywhere in the cluster), then `CharactersToLoginByGUID` (the
//!   characters database, for offline ones). A cross-realm guid carries its realm in bits
//!   32..48 and the character's counter in the low 32 bits; a plain guid is this realm's.
//! - `CharactersToLoginByGUID` for [`GrpcCharacters::character_to_login`] and
//!   [`GrpcCharacters::owns`]: its `accountID` lets the gateway refuse a login of another
//!   account's character (ToCloud9's gateway does not check it).
//! - `AccountDataForAccount` for [`GrpcCharacters::account_data`].
//! - `WhoQuery` for [`GrpcCharacters::who`] (presentation's /who).
//! - the friend and ignore list calls for [`GrpcCharacters::contacts`] (`contacts.rs`).
//!
//! Everything the service answers is checked before it reaches the session: values the
//! client's packets carry as bytes must fit a byte, names must be 1..=48 bytes, lists have a
//! bound. A bad answer is a final [`SeamError`] naming the characters service.

mod contacts;

use super::v1;
use super::v1::characters_service_client::CharactersServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::runtime::{BoxFuture, Characters};
use crate::session::{AccountId, CharacterGuid, CharacterRecord, NameRecord, SeamError};
use crate::wire::packets::{WHO_DISPLAY_MAX, WhoEntry, WhoList, WhoRequest};

/// The service name in every [`SeamError`] of this adapter.
const SERVICE: &str = "characters";

/// Characters of one account on one realm, at most: SMSG_CHAR_ENUM counts them in a byte.
pub const CHARACTERS_PER_ACCOUNT_MAX: usize = 255;

/// Longest character name accepted, in bytes (AzerothCore: 12 characters of UTF-8).
pub const CHARACTER_NAME_MAX_BYTES: usize = 48;

/// Account data types (AzerothCore `NUM_ACCOUNT_DATA_TYPES`): a type is below this.
pub const ACCOUNT_DATA_TYPES_MAX: u32 = 8;

/// Largest account data blob accepted, in bytes (AzerothCore refuses larger ones).
pub const ACCOUNT_DATA_MAX_BYTES: usize = 0xFFFF;

type Client = CharactersServiceClient<tonic::transport::Channel>;

/// How to reach the characters service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharactersSettings {
    /// `host:port` of ToCloud9's charserver (`charactersServiceAddress`).
    pub address: String,
    /// The realm this gateway serves.
    pub realm_id: u32,
    /// Deadline of one call, connecting included. Keep it below the session's
    /// `service_timeout_ms`, so the session hears the adapter's reason, not its own timeout.
    pub characters_call_timeout_ms: u64,
}

impl CharactersSettings {
    /// Settings with the default deadline.
    pub fn new(address: impl Into<String>, realm_id: u32) -> Self {
        Self {
            address: address.into(),
            realm_id,
            characters_call_timeout_ms: 4_000,
        }
    }
}

/// One account data entry (`AccountData`): what the client caches per type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountDataEntry {
    /// Account data type, below [`ACCOUNT_DATA_TYPES_MAX`].
    pub kind: u32,
    /// When it was saved, Unix seconds.
    pub time: i64,
    /// The data.
    pub data: String,
}

/// The characters seam over ToCloud9's charserver. Cloning shares the channel.
#[derive(Clone)]
pub struct GrpcCharacters {
    settings: CharactersSettings,
    client: Client,
}

impl GrpcCharacters {
    /// A client that connects on its first call. Needs a runtime (tokio, or madsim).
    pub fn connect(settings: CharactersSettings) -> Result<Self, SeamError> {
        let client = Client::new(lazy_channel(
            SERVICE,
            &settings.address,
            settings.characters_call_timeout_ms,
        )?);
        Ok(Self { settings, client })
    }

    /// A character as the login would see it (`CharactersToLoginByGUID`); `Ok(None)`: no such
    /// character on this realm. Its `account` is the owner the service names (0 when the
    /// service does not say).
    pub async fn character_to_login(
        &self,
        guid: CharacterGuid,
    ) -> Result<Option<CharacterRecord>, SeamError> {
        const RPC: &str = "CharactersToLoginByGUID";
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.characters_to_login_by_guid(request(
                v1::CharactersToLoginByGuidRequest {
                    api: API_VERSION.into(),
                    character_guid: guid.0,
                    realm_id: self.settings.realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let Some(c) = answer.character else {
            return Ok(None);
        };
        if c.guid != guid.0 {
            return Err(bad_answer(
                SERVICE,
                RPC,
                format!("asked for character {}, got {}", guid.0, c.guid),
            ));
        }
        record(RPC, &c, AccountId(c.account_id)).map(Some)
    }

    /// Whether `guid` is a character of `account` on this realm: the check before a login.
    /// `Ok(false)` for a character that does not exist; an error when the service does not
    /// name the owner.
    pub async fn owns(&self, account: AccountId, guid: CharacterGuid) -> Result<bool, SeamError> {
        match self.character_to_login(guid).await? {
            None => Ok(false),
            Some(c) if c.account.0 == 0 => Err(bad_answer(
                SERVICE,
                "CharactersToLoginByGUID",
                format!("character {} has no account", guid.0),
            )),
            Some(c) => Ok(c.account == account),
        }
    }

    /// The account's data on this realm (`AccountDataForAccount`), as the service lists it.
    pub async fn account_data(
        &self,
        account: AccountId,
    ) -> Result<Vec<AccountDataEntry>, SeamError> {
        const RPC: &str = "AccountDataForAccount";
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.account_data_for_account(request(
                v1::AccountDataForAccountRequest {
                    api: API_VERSION.into(),
                    account_id: account.0,
                    realm_id: self.settings.realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        if answer.account_data.len() > ACCOUNT_DATA_TYPES_MAX as usize {
            return Err(bad_answer(
                SERVICE,
                RPC,
                format!("{} entries", answer.account_data.len()),
            ));
        }
        answer
            .account_data
            .into_iter()
            .map(|d| {
                if d.r#type >= ACCOUNT_DATA_TYPES_MAX {
                    return Err(bad_answer(
                        SERVICE,
                        RPC,
                        format!("account data type {}", d.r#type),
                    ));
                }
                if d.data.len() > ACCOUNT_DATA_MAX_BYTES {
                    return Err(bad_answer(
                        SERVICE,
                        RPC,
                        format!("account data of {} bytes", d.data.len()),
                    ));
                }
                Ok(AccountDataEntry {
                    kind: d.r#type,
                    time: d.time,
                    data: d.data,
                })
            })
            .collect()
    }

    async fn list_for(&self, account: AccountId) -> Result<Vec<CharacterRecord>, SeamError> {
        const RPC: &str = "CharactersToLoginForAccount";
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.characters_to_login_for_account(request(
                v1::CharactersToLoginForAccountRequest {
                    api: API_VERSION.into(),
                    account_id: account.0,
                    realm_id: self.settings.realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        if answer.characters.len() > CHARACTERS_PER_ACCOUNT_MAX {
            return Err(bad_answer(
                SERVICE,
                RPC,
                format!(
                    "{} characters for account {}",
                    answer.characters.len(),
                    account.0
                ),
            ));
        }
        answer
            .characters
            .iter()
            .map(|c| {
                if c.account_id != 0 && c.account_id != account.0 {
                    return Err(bad_answer(
                        SERVICE,
                        RPC,
                        format!(
                            "character {} of account {} listed for account {}",
                            c.guid, c.account_id, account.0
                        ),
                    ));
                }
                record(RPC, c, account)
            })
            .collect()
    }

    async fn name_of(&self, guid: CharacterGuid) -> Result<Option<NameRecord>, SeamError> {
        const ONLINE: &str = "ShortOnlineCharactersDataByGUIDs";
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let (realm_id, counter) = split_player_guid(guid, self.settings.realm_id);
        let mut client = self.client.clone();
        let online = call(
            SERVICE,
            ONLINE,
            timeout_ms,
            client.short_online_characters_data_by_gui_ds(request(
                v1::ShortCharactersDataByGuiDsRequest {
                    api: API_VERSION.into(),
                    realm_id,
                    gui_ds: vec![counter],
                },
                timeout_ms,
            )),
        )
        .await?;
        if let Some(c) = online.characters.first() {
            if c.char_guid != counter && c.char_guid != guid.0 {
                return Err(bad_answer(
                    SERVICE,
                    ONLINE,
                    format!("asked for character {counter}, got {}", c.char_guid),
                ));
            }
            return Ok(Some(NameRecord {
                guid,
                name: name(ONLINE, c.char_guid, &c.char_name)?,
                race: byte(ONLINE, c.char_guid, "race", c.char_race)?,
                gender: byte(ONLINE, c.char_guid, "gender", c.char_gender)?,
                class: byte(ONLINE, c.char_guid, "class", c.char_class)?,
            }));
        }

        const STORED: &str = "CharactersToLoginByGUID";
        let stored = call(
            SERVICE,
            STORED,
            timeout_ms,
            client.characters_to_login_by_guid(request(
                v1::CharactersToLoginByGuidRequest {
                    api: API_VERSION.into(),
                    character_guid: counter,
                    realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let Some(c) = stored.character else {
            return Ok(None);
        };
        Ok(Some(NameRecord {
            guid,
            name: name(STORED, c.guid, &c.name)?,
            race: byte(STORED, c.guid, "race", c.race)?,
            gender: byte(STORED, c.guid, "gender", c.gender)?,
            class: byte(STORED, c.guid, "class", c.class)?,
        }))
    }
}

impl GrpcCharacters {
    /// A /who query (`WhoQuery`) for `asker`: the list as the client shows it, at most
    /// [`WHO_DISPLAY_MAX`] entries; names cut at a NUL and at [`CHARACTER_NAME_MAX_BYTES`],
    /// values the client reads as a byte clamped.
    pub async fn who(&self, asker: u64, q: &WhoRequest) -> Result<WhoList, SeamError> {
        const RPC: &str = "WhoQuery";
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.who_query(request(
                v1::WhoQueryRequest {
                    api: API_VERSION.into(),
                    character_guid: asker,
                    realm_id: self.settings.realm_id,
                    lvl_min: q.level_min,
                    lvl_max: q.level_max,
                    player_name: q.player_name.clone(),
                    guild_name: q.guild_name.clone(),
                    race_mask: q.race_mask,
                    class_mask: q.class_mask,
                    zones: q.zones.clone(),
                    strings: q.strings.clone(),
                },
                timeout_ms,
            )),
        )
        .await?;
        let clean = |s: &str| {
            let s = s.split('\0').next().unwrap_or_default();
            let mut end = s.len().min(CHARACTER_NAME_MAX_BYTES);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        };
        let entries = answer
            .items_to_display
            .iter()
            .take(WHO_DISPLAY_MAX)
            .map(|i| WhoEntry {
                name: clean(&i.name),
                guild: clean(&i.guild),
                level: i.lvl,
                class: i.class,
                race: i.race,
                gender: u8::try_from(i.gender).unwrap_or(u8::MAX),
                zone: i.zone_id,
            })
            .collect::<Vec<_>>();
        Ok(WhoList {
            matches: answer.total_found.max(entries.len() as u32),
            entries,
        })
    }
}

impl GrpcCharacters {
    /// The guid of the character of this name on this realm (`CharacterByName`), or of the
    /// one online anywhere in the cluster (`CharacterOnlineByName`); `None`: nobody.
    pub async fn guid_by_name(&self, name: &str, online: bool) -> Result<Option<u64>, SeamError> {
        let timeout_ms = self.settings.characters_call_timeout_ms;
        let realm_id = self.settings.realm_id;
        let mut client = self.client.clone();
        let guid = if online {
            let rpc = client.character_online_by_name(request(
                v1::CharacterOnlineByNameRequest {
                    api: API_VERSION.into(),
                    realm_id,
                    character_name: name.to_owned(),
                },
                timeout_ms,
            ));
            let answer = call(SERVICE, "CharacterOnlineByName", timeout_ms, rpc).await?;
            answer.character.map(|c| c.char_guid)
        } else {
            let rpc = client.character_by_name(request(
                v1::CharacterByNameRequest {
                    api: API_VERSION.into(),
                    realm_id,
                    character_name: name.to_owned(),
                },
                timeout_ms,
            ));
            let answer = call(SERVICE, "CharacterByName", timeout_ms, rpc).await?;
            answer.character.map(|c| c.char_guid)
        };
        Ok(guid.filter(|&g| g != 0))
    }
}

impl Characters for GrpcCharacters {
    fn list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<CharacterRecord>, SeamError>> {
        Box::pin(self.list_for(account))
    }

    fn name(&self, guid: CharacterGuid) -> BoxFuture<'_, Result<Option<NameRecord>, SeamError>> {
        Box::pin(self.name_of(guid))
    }
}

/// A player guid as ToCloud9 looks it up: (realm, counter). A cross-realm guid carries its
/// realm in bits 32..48; a plain one is `own_realm`'s.
fn split_player_guid(guid: CharacterGuid, own_realm: u32) -> (u32, u64) {
    let realm = ((guid.0 >> 32) & 0xFFFF) as u32;
    let counter = guid.0 & 0xFFFF_FFFF;
    (if realm == 0 { own_realm } else { realm }, counter)
}

/// A value the client's packets carry in one byte.
fn byte(rpc: &'static str, guid: u64, what: &str, value: u32) -> Result<u8, SeamError> {
    u8::try_from(value).map_err(|_| {
        bad_answer(
            SERVICE,
            rpc,
            format!("character {guid} has {what} {value} (over 255)"),
        )
    })
}

fn name(rpc: &'static str, guid: u64, name: &str) -> Result<String, SeamError> {
    if name.is_empty() || name.len() > CHARACTER_NAME_MAX_BYTES {
        return Err(bad_answer(
            SERVICE,
            rpc,
            format!("character {guid} has a name of {} bytes", name.len()),
        ));
    }
    Ok(name.to_owned())
}

/// A `LogInCharacter` as the session's record, owned by `account`.
fn record(
    rpc: &'static str,
    c: &v1::LogInCharacter,
    account: AccountId,
) -> Result<CharacterRecord, SeamError> {
    let b = |what: &str, value: u32| byte(rpc, c.guid, what, value);
    Ok(CharacterRecord {
        guid: CharacterGuid(c.guid),
        account,
        name: name(rpc, c.guid, &c.name)?,
        race: b("race", c.race)?,
        class: b("class", c.class)?,
        gender: b("gender", c.gender)?,
        level: b("level", c.level)?,
        appearance: [
            b("skin", c.skin)?,
            b("face", c.face)?,
            b("hair style", c.hair_style)?,
            b("hair color", c.hair_color)?,
            b("facial style", c.facial_style)?,
        ],
        map: c.map,
        zone: c.zone,
        x: c.position_x,
        y: c.position_y,
        z: c.position_z,
        guild_id: c.guild_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_guids_are_this_realms_and_cross_realm_guids_carry_theirs() {
        assert_eq!(split_player_guid(CharacterGuid(42), 7), (7, 42));
        let cross = (3u64 << 32) | 42;
        assert_eq!(split_player_guid(CharacterGuid(cross), 7), (3, 42));
    }

    #[test]
    fn a_value_over_a_byte_is_a_final_error_naming_the_service() {
        let e = byte("CharactersToLoginForAccount", 9, "race", 300).expect_err("over 255");
        assert_eq!(e.service, "characters");
        assert!(!e.retryable);
        assert!(e.detail.contains("race 300"), "{}", e.detail);
        assert_eq!(byte("x", 9, "race", 255), Ok(255));
    }

    #[test]
    fn names_must_be_one_to_48_bytes() {
        assert!(name("x", 1, "").is_err());
        assert!(name("x", 1, &"a".repeat(CHARACTER_NAME_MAX_BYTES + 1)).is_err());
        assert_eq!(name("x", 1, "Thrall").as_deref(), Ok("Thrall"));
    }
}
