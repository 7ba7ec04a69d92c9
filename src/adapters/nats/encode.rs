//! The events this gateway publishes, as the bytes Go's `encoding/json` would write for
//! ToCloud9's structs (CONTRACTS.md sections 2.1 and 2.3): the envelope's keys `v`, `t`, `p` in
//! that order, the payload's keys in the Go struct's field order, no spaces, `float32` as the
//! shortest decimal that reads back as the same `f32`, strings escaped as Go escapes them.
//! Pure: no I/O, no clock.

use std::fmt::Write as _;

use crate::present::state::CharacterUpdate;
use crate::session::Announcement;

/// The producer version every ToCloud9 producer writes into `v`.
pub const ENVELOPE_VERSION: &str = "0.0.1";

/// Subject of `GWEventCharacterLoggedInPayload`.
pub const SUBJECT_LOGGED_IN: &str = "gw.char.logged-in";
/// Subject of `GWEventCharacterLoggedOutPayload`.
pub const SUBJECT_LOGGED_OUT: &str = "gw.char.logged-out";

/// Subject of `GWEventCharactersUpdatesPayload`.
pub const SUBJECT_CHARS_UPDATES: &str = "gw.char.chars-updates";

/// `t` of `gw.char.logged-in` (gateway family).
pub const TYPE_LOGGED_IN: u8 = 1;
/// `t` of `gw.char.logged-out` (gateway family).
pub const TYPE_LOGGED_OUT: u8 = 2;
/// `t` of `gw.char.chars-updates` (gateway family).
pub const TYPE_CHARS_UPDATES: u8 = 3;

/// Who publishes: the realm and the gateway's registered id, written into every payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// `RealmID`.
    pub realm_id: u32,
    /// `GatewayID`.
    pub gateway_id: String,
}

/// `gw.char.chars-updates` for these changes: `RealmID`, `GatewayID`, then `Updates`, each a
/// `CharacterUpdate` with its keys in the Go struct's order (`i`, `l`, `m`, `a`, `z`, `h`,
/// `hm`, `pt`, `p`, `pm`), an unchanged field's key left out (Go's `omitempty` on a nil
/// pointer).
pub fn encode_updates(from: &Publisher, updates: &[CharacterUpdate]) -> Vec<u8> {
    let mut out = String::with_capacity(64 + updates.len() * 48);
    envelope_start(&mut out, TYPE_CHARS_UPDATES);
    out.push('{');
    key_u64(&mut out, "RealmID", from.realm_id.into(), true);
    key_str(&mut out, "GatewayID", &from.gateway_id);
    key(&mut out, "Updates", false);
    out.push('[');
    for (n, u) in updates.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('{');
        key_u64(&mut out, "i", u.guid, true);
        let fields = [
            ("l", u.level.map(u64::from)),
            ("m", u.map.map(u64::from)),
            ("a", u.area.map(u64::from)),
            ("z", u.zone.map(u64::from)),
            ("h", u.health.map(u64::from)),
            ("hm", u.max_health.map(u64::from)),
            ("pt", u.power_type.map(u64::from)),
            ("p", u.power.map(u64::from)),
            ("pm", u.max_power.map(u64::from)),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                key_u64(&mut out, name, v, false);
            }
        }
        out.push('}');
    }
    out.push_str("]}}");
    out.into_bytes()
}

/// An announcement as its subject and envelope bytes. A [`Announcement::CharacterUpdated`]
/// alone is encoded as a one-character `gw.char.chars-updates` (the bus batches them); a
/// channel membership is not published (`None`).
pub fn encode(from: &Publisher, announcement: &Announcement) -> Option<(&'static str, Vec<u8>)> {
    let mut out = String::with_capacity(320);
    let subject = match announcement {
        Announcement::CharacterUpdated(u) => {
            return Some((
                SUBJECT_CHARS_UPDATES,
                encode_updates(from, std::slice::from_ref(u)),
            ));
        }
        // Kept on this gateway (who a channel's events are for), never published.
        Announcement::ChannelMembership { .. } => return None,
        Announcement::LoggedIn { account, character } => {
            envelope_start(&mut out, TYPE_LOGGED_IN);
            out.push('{');
            let c = character;
            key_u64(&mut out, "RealmID", from.realm_id.into(), true);
            key_str(&mut out, "GatewayID", &from.gateway_id);
            key_u64(&mut out, "CharGUID", c.guid.0, false);
            key_str(&mut out, "CharName", &c.name);
            key_u64(&mut out, "CharRace", c.race.into(), false);
            key_u64(&mut out, "CharClass", c.class.into(), false);
            key_u64(&mut out, "CharGender", c.gender.into(), false);
            key_u64(&mut out, "CharLevel", c.level.into(), false);
            key_u64(&mut out, "CharZone", c.zone.into(), false);
            key_u64(&mut out, "CharMap", c.map.into(), false);
            key_f32(&mut out, "CharPosX", c.x);
            key_f32(&mut out, "CharPosY", c.y);
            key_f32(&mut out, "CharPosZ", c.z);
            key_u64(&mut out, "CharGuildID", c.guild_id.into(), false);
            key_u64(&mut out, "AccountID", account.0.into(), false);
            SUBJECT_LOGGED_IN
        }
        Announcement::LoggedOut {
            account,
            guid,
            name,
            guild_id,
        } => {
            envelope_start(&mut out, TYPE_LOGGED_OUT);
            out.push('{');
            key_u64(&mut out, "RealmID", from.realm_id.into(), true);
            key_str(&mut out, "GatewayID", &from.gateway_id);
            key_u64(&mut out, "CharGUID", guid.0, false);
            key_str(&mut out, "CharName", name);
            key_u64(&mut out, "CharGuildID", (*guild_id).into(), false);
            key_u64(&mut out, "AccountID", account.0.into(), false);
            SUBJECT_LOGGED_OUT
        }
    };
    out.push_str("}}");
    Some((subject, out.into_bytes()))
}

fn envelope_start(out: &mut String, event_type: u8) {
    out.push_str("{\"v\":");
    write_str(out, ENVELOPE_VERSION);
    let _ = write!(out, ",\"t\":{event_type},\"p\":");
}

fn key(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(name);
    out.push_str("\":");
}

fn key_u64(out: &mut String, name: &str, value: u64, first: bool) {
    key(out, name, first);
    let _ = write!(out, "{value}");
}

fn key_str(out: &mut String, name: &str, value: &str) {
    key(out, name, false);
    write_str(out, value);
}

fn key_f32(out: &mut String, name: &str, value: f32) {
    key(out, name, false);
    write_f32(out, value);
}

/// A string as Go's encoder writes it: `"` and `\` escaped, `\n` `\r` `\t` by name, other
/// control characters as `\u00XX`, and the HTML-sensitive `<` `>` `&` and the separators
/// U+2028, U+2029 as `\uXXXX`.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A `float32` as Go's encoder writes it: the shortest decimal that reads back as the same
/// `f32`, in plain notation, or in exponent notation (`1e-7`, `3.4028235e+38`) when its
/// magnitude is below 1e-6 or at least 1e21. Go refuses to encode NaN and the infinities
/// (the whole event would fail); they are written as 0 here, so a bad position never costs
/// the login announcement.
pub fn write_f32(out: &mut String, v: f32) {
    if !v.is_finite() {
        out.push('0');
        return;
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` is shortest round-trip too; only the exponent's spelling differs
        // from Go's (`e+38`, `e-7`).
        let text = format!("{v:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        out.push_str(mantissa);
        out.push('e');
        if exponent.starts_with('-') {
            out.push_str(exponent);
        } else {
            let _ = write!(out, "+{exponent:0>2}");
        }
    } else {
        // Display is the shortest round-trip decimal, never in exponent form.
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{AccountId, CharacterGuid, CharacterRecord};

    fn publisher() -> Publisher {
        Publisher {
            realm_id: 3,
            gateway_id: "17".into(),
        }
    }

    fn alice() -> CharacterRecord {
        CharacterRecord {
            guid: CharacterGuid(0x0000_0001_0000_002A),
            account: AccountId(9),
            name: "Alice".into(),
            race: 10,
            class: 8,
            gender: 1,
            level: 80,
            appearance: [0; 5],
            map: 571,
            zone: 4395,
            x: 5804.15,
            y: 624.771,
            z: 647.767,
            guild_id: 4_000_000_000,
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn logged_in_has_the_envelope_and_go_field_order() {
        let (subject, bytes) = encode(
            &publisher(),
            &Announcement::LoggedIn {
                account: AccountId(9),
                character: alice(),
            },
        )
        .expect("published");
        assert_eq!(subject, "gw.char.logged-in");
        assert_eq!(
            text(bytes),
            concat!(
                r#"{"v":"0.0.1","t":1,"p":{"RealmID":3,"GatewayID":"17","#,
                r#""CharGUID":4294967338,"CharName":"Alice","CharRace":10,"CharClass":8,"#,
                r#""CharGender":1,"CharLevel":80,"CharZone":4395,"CharMap":571,"#,
                r#""CharPosX":5804.15,"CharPosY":624.771,"CharPosZ":647.767,"#,
                r#""CharGuildID":4000000000,"AccountID":9}}"#
            )
        );
    }

    #[test]
    fn logged_out_has_the_envelope_and_go_field_order() {
        let (subject, bytes) = encode(
            &publisher(),
            &Announcement::LoggedOut {
                account: AccountId(u32::MAX),
                guid: CharacterGuid(u64::MAX),
                name: "Bob".into(),
                guild_id: 0,
            },
        )
        .expect("published");
        assert_eq!(subject, "gw.char.logged-out");
        assert_eq!(
            text(bytes),
            concat!(
                r#"{"v":"0.0.1","t":2,"p":{"RealmID":3,"GatewayID":"17","#,
                r#""CharGUID":18446744073709551615,"CharName":"Bob","CharGuildID":0,"#,
                r#""AccountID":4294967295}}"#
            )
        );
    }

    #[test]
    fn chars_updates_have_the_envelope_and_leave_unchanged_keys_out() {
        let full = CharacterUpdate {
            guid: 42,
            level: Some(80),
            map: Some(571),
            area: Some(4_395),
            zone: Some(65),
            health: Some(30_000),
            max_health: Some(32_000),
            power_type: Some(0),
            power: Some(0),
            max_power: Some(u32::MAX),
        };
        let sparse = CharacterUpdate {
            guid: 7,
            health: Some(1),
            ..CharacterUpdate::default()
        };
        assert_eq!(
            text(encode_updates(&publisher(), &[full, sparse])),
            concat!(
                r#"{"v":"0.0.1","t":3,"p":{"RealmID":3,"GatewayID":"17","Updates":["#,
                r#"{"i":42,"l":80,"m":571,"a":4395,"z":65,"h":30000,"hm":32000,"pt":0,"p":0,"#,
                r#""pm":4294967295},{"i":7,"h":1}]}}"#
            )
        );
        let (subject, bytes) =
            encode(&publisher(), &Announcement::CharacterUpdated(sparse)).expect("published");
        assert_eq!(subject, "gw.char.chars-updates");
        assert_eq!(
            text(bytes),
            r#"{"v":"0.0.1","t":3,"p":{"RealmID":3,"GatewayID":"17","Updates":[{"i":7,"h":1}]}}"#
        );
    }

    #[test]
    fn the_output_parses_back_to_the_same_values() {
        let (_, bytes) = encode(
            &publisher(),
            &Announcement::LoggedIn {
                account: AccountId(9),
                character: alice(),
            },
        )
        .expect("published");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let p = &v["p"];
        assert_eq!(p["CharPosX"].as_f64().map(|x| x as f32), Some(5804.15f32));
        assert_eq!(p["CharPosY"].as_f64().map(|x| x as f32), Some(624.771f32));
        assert_eq!(p["CharGUID"].as_u64(), Some(0x0000_0001_0000_002A));
        assert!(p["GatewayID"].is_string());
    }

    fn f32_text(v: f32) -> String {
        let mut s = String::new();
        write_f32(&mut s, v);
        s
    }

    #[test]
    fn f32_is_written_as_go_writes_it() {
        // Expected strings are what Go's strconv.AppendFloat(_, v, 'f' or 'e', -1, 32)
        // produces after encoding/json's exponent clean-up.
        for (v, go) in [
            (0.0f32, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (16.0, "16"),
            (-8949.95, "-8949.95"),
            (0.1, "0.1"),
            (1.1, "1.1"),
            (100000.0, "100000"),
            (1e-6, "0.000001"),
            (9.99e-7, "9.99e-7"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (f32::MAX, "3.4028235e+38"),
            (f32::MIN_POSITIVE, "1.1754944e-38"),
            (1e-45, "1e-45"),
            (16_777_217.0, "16777216"),
        ] {
            assert_eq!(f32_text(v), go, "{v:?}");
        }
    }

    #[test]
    fn every_finite_f32_written_reads_back_exactly() {
        // A spread of bit patterns across the whole range, both signs.
        let mut bits: u32 = 1;
        for _ in 0..20_000 {
            bits = bits.wrapping_mul(2_654_435_761).wrapping_add(0x9E37_79B9);
            let v = f32::from_bits(bits);
            if !v.is_finite() {
                continue;
            }
            let s = f32_text(v);
            assert_eq!(s.parse::<f32>().ok(), Some(v), "{s}");
        }
    }

    #[test]
    fn non_finite_positions_are_written_as_zero() {
        assert_eq!(f32_text(f32::NAN), "0");
        assert_eq!(f32_text(f32::INFINITY), "0");
        assert_eq!(f32_text(f32::NEG_INFINITY), "0");
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\re\tf\u{1}g<h>i&j\u{2028}k\u{2029}lé");
        assert_eq!(
            s,
            r#""a\"b\\c\nd\re\tf\u0001g\u003ch\u003ei\u0026j\u2028k\u2029lé""#
        );
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "a\"b\\c\nd\re\tf\u{1}g<h>i&j\u{2028}k\u{2029}lé");
    }
}
