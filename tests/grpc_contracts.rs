//! The `v1` contracts on the wire: per service, one request message encodes to bytes worked
//! out by hand from CONTRACTS.md's field numbers and wire types (tag = number << 3 | wire
//! type; 0 varint, 2 length-delimited; proto3 leaves defaults out, packs repeated scalars and
//! writes an explicitly present `optional` even when it is 0), and decodes back.

use prost::Message;
use waygate::adapters::grpc::v1;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => panic!("not a hex digit: {}", b as char),
        })
        .collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()
}

/// `message` encodes to exactly `expected` and decodes back to itself.
fn pinned<M: Message + Default + PartialEq + std::fmt::Debug>(message: M, expected: &str) {
    let expected = hex(expected);
    assert_eq!(message.encode_to_vec(), expected, "encoding of {message:?}");
    assert_eq!(
        M::decode(expected.as_slice()).expect("decodes"),
        message,
        "decoding"
    );
}

#[test]
fn servers_registry_register_gateway() {
    pinned(
        v1::RegisterGatewayRequest {
            api: "0.0.1".into(),
            game_port: 8085,
            health_port: 8900,
            realm_id: 1,
            is_cross_realm: false,
            preferred_host_name: "gw".into(),
        },
        // 1 "0.0.1" | 2 8085 = 0x95 0x3f | 3 8900 = 0xc4 0x45 | 4 1 | 5 false: absent | 6 "gw"
        "0a05 302e302e31  10 953f  18 c445  20 01  32 02 6777",
    );
}

#[test]
fn servers_registry_availability_question() {
    pinned(
        v1::AvailableGameServersForMapAndRealmRequest {
            api: String::new(),
            realm_id: 1,
            map_id: 571,
            is_cross_realm: true,
            group_id: 0,
            preferred_game_server_alias: "a:1".into(),
        },
        // 2 1 | 3 571 = 0xbb 0x04 | 4 true | 6 "a:1"
        "10 01  18 bb04  20 01  32 03 613a31",
    );
}

#[test]
fn servers_registry_listing_accepts_unpacked_maps() {
    // Field 9 (availableMaps) written unpacked, as an old encoder may: tag 0x48 per value.
    // Field 8 (diff) is a nested message: percentile99 (4) = 40.
    let bytes = hex("0a 01 61  42 02 2028  48 00  48 01  50 01  5a 02 4541");
    let gs = v1::GameServerDetailed::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(gs.id, "a");
    assert_eq!(gs.available_maps, vec![0, 1]);
    assert_eq!(gs.assigned_maps, vec![1]);
    assert_eq!(gs.alias, "EA");
    assert_eq!(gs.diff.map(|d| d.percentile99), Some(40));
}

#[test]
fn characters_short_data_by_guids() {
    pinned(
        v1::ShortCharactersDataByGuiDsRequest {
            api: String::new(),
            realm_id: 1,
            gui_ds: vec![1, 300],
        },
        // 2 1 | 3 packed [1, 300 = 0xac 0x02]
        "10 01  1a 03 01 ac02",
    );
}

#[test]
fn characters_to_login_for_account() {
    pinned(
        v1::CharactersToLoginForAccountRequest {
            api: "0.0.1".into(),
            account_id: 300,
            realm_id: 1,
        },
        "0a05 302e302e31  10 ac02  18 01",
    );
}

#[test]
fn group_invite() {
    pinned(
        v1::InviteParams {
            api: "0.0.1".into(),
            realm_id: 1,
            inviter: 2,
            invited: 3,
            inviter_name: "A".into(),
            invited_name: "B".into(),
            inviter_map_id: 0,
            inviter_game_server_id: String::new(),
        },
        "0a05 302e302e31  10 01  18 02  20 03  2a 01 41  32 01 42",
    );
}

#[test]
fn group_extension_start_ready_check() {
    pinned(
        v1::StartReadyCheckRequest {
            api: String::new(),
            realm_id: 1,
            leader_guid: 5,
            duration_ms: 35_000,
        },
        // 4 35000 = 0xb8 0x91 0x02
        "10 01  18 05  20 b89102",
    );
}

#[test]
fn guilds_invite_accepted() {
    pinned(
        v1::InviteAcceptedParams {
            api: String::new(),
            realm_id: 1,
            character: Some(v1::invite_accepted_params::Character {
                guid: 2,
                name: "A".into(),
                lvl: 80,
                race: 0,
                class_id: 0,
                gender: 0,
                area_id: 0,
                account_id: 5,
            }),
        },
        // 3: nested, 9 bytes: 1 2 | 2 "A" | 3 80 | 8 5 (accountID, uint64 here)
        "10 01  1a 09 08 02 12 01 41 18 50 40 05",
    );
}

#[test]
fn chat_join_channel() {
    pinned(
        v1::JoinChannelRequest {
            api: String::new(),
            realm_id: 1,
            player_guid: 2,
            player_name: "A".into(),
            team_id: v1::TeamId::TeamHorde as i32,
            channel_name: "General".into(),
            channel_id: 0,
            password: String::new(),
            channel_flags: 0,
        },
        // 5 enum TEAM_HORDE = 1 | 6 "General"
        "10 01  18 02  22 01 41  28 01  32 07 47656e6572616c",
    );
}

#[test]
fn mail_send_with_an_explicit_zero_sender() {
    pinned(
        v1::SendRequest {
            api: String::new(),
            realm_id: 1,
            sender_guid: Some(0),
            receiver_guid: 9,
            subject: "Hi".into(),
            body: String::new(),
            money_to_send: -1,
            cash_on_delivery: 0,
            attachments: Vec::new(),
            delivery_timestamp: 0,
            expiration_timestamp: 0,
            r#type: v1::MailType::Auction as i32,
            template_id: 0,
            stationery: v1::MailStationery::StDefault as i32,
            flags_mask: 0,
        },
        // 3 optional, present: 0 | 7 int32 -1: ten bytes | 12 Auction = 2 | 14 StDefault = 41
        "10 01  18 00  20 09  2a 02 4869  38 ffffffffffffffffff01  60 02  70 29",
    );
}

#[test]
fn matchmaking_enqueue() {
    pinned(
        v1::EnqueueToBattlegroundRequest {
            api: String::new(),
            realm_id: 1,
            leader_guid: 2,
            party_members: vec![2, 3],
            leaders_lvl: 80,
            bg_type_id: 2,
            team_id: v1::PvpTeamId::Horde as i32,
        },
        // 4 packed [2, 3] | 5 80 | 6 2 | 7 Horde = 2
        "10 01  18 02  22 02 0203  28 50  30 02  38 02",
    );
}

#[test]
fn worldserver_add_existing_item() {
    pinned(
        v1::AddExistingItemToPlayerRequest {
            api: String::new(),
            player_guid: 1,
            item: Some(v1::add_existing_item_to_player_request::Item {
                guid: 2,
                entry: 25,
                count: 1,
                flags: 0,
                durability: 0,
                random_property_id: 0,
                text: String::new(),
            }),
        },
        // 2 playerGuid 1 | 3 item: 1 2 | 2 25 | 7 1 (the item's numbers jump from 2 to 7)
        "10 01  1a 06 08 02 10 19 38 01",
    );
}

#[test]
fn auctionhouse_list_items_has_no_api_field() {
    pinned(
        v1::AuctionListItemsRequest {
            realm_id: 1,
            player_guid: 2,
            house_id: 7,
            list_from: 0,
            searched_name: "x".into(),
            level_min: 0,
            level_max: 0,
            inventory_type: 0,
            item_class: 0,
            item_sub_class: 0,
            quality: 0,
            get_all: true,
            usable: false,
            sorting: vec![v1::AuctionSortOrder {
                column: 3,
                is_desc: true,
            }],
        },
        // 1 realmID | 2 | 3 | 5 "x" | 12 true | 14 [{1 3, 2 true}]
        "08 01  10 02  18 07  2a 01 78  60 01  72 04 0803 1001",
    );
}

#[test]
fn unknown_enum_values_and_fields_are_tolerated() {
    // InviteResponse: 2 status = 9 (no such value) | 15 an unknown varint field.
    let bytes = hex("10 09  78 01");
    let r = v1::InviteResponse::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(r.status, 9);
    assert!(v1::invite_response::Status::try_from(r.status).is_err());
}
