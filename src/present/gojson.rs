//! Reading JSON the way Go's `encoding/json` reads it into ToCloud9's event structs, so that
//! an event the Go gateway would have taken is taken here and one it would have refused is
//! refused here (CONTRACTS.md section 2.1):
//!
//! - object keys match field names case-insensitively (Go's folding: ASCII letters, plus the
//!   Kelvin sign for `K` and the long s for `S`); when a key appears twice the later one wins;
//! - unknown keys are ignored; a missing key leaves the zero value;
//! - `null` is accepted for every field (a number, string or bool keeps its zero value; an
//!   array or map becomes empty);
//! - integers must be integer literals in the field's range (`1.0`, `1e2`, `-1` for an
//!   unsigned field, or `300` for a `uint8` are type errors); a type error anywhere in the
//!   payload makes Go's `json.Unmarshal` fail, and the Go gateway then drops the event.
//!
//! Not reproduced: strings with invalid UTF-8 (Go replaces the bytes, this parser refuses the
//! document; ToCloud9's producers never write such strings, since Go's encoder replaces them),
//! and Go's reuse of earlier elements when an array key is repeated.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why an event was refused. Each names what was wrong, for the log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Not one JSON document.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// A value of the wrong type (`field` is a path such as `Members[2].MemberGUID`).
    #[error("{field}: expected {expected}")]
    Type {
        /// Where.
        field: String,
        /// What Go's struct wants there.
        expected: &'static str,
    },
    /// The envelope has no `p`.
    #[error("the envelope has no payload")]
    NoPayload,
    /// A subject this gateway does not subscribe to.
    #[error("unknown subject {0}")]
    UnknownSubject(String),
}

/// The type a Go struct field has, as far as decoding JSON into it goes. Go pointers
/// (`*uint8`, ...) decode like their target, since `null` is accepted everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `bool`.
    Bool,
    /// `uint8`.
    U8,
    /// `uint32`.
    U32,
    /// `uint64` and Go's 64-bit `uint`.
    U64,
    /// `int64`.
    I64,
    /// `string`.
    Str,
    /// `[]uint64`.
    U64s,
    /// `[]guid.LowType` (`uint32`).
    U32s,
    /// `map[guid.LowType]uint8`: keys are decimal `uint32` strings, values `uint8`.
    LowGuidToU8,
    /// An array of structs with these fields.
    Objects(&'static [Field]),
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Bool => "a bool",
            Kind::U8 => "an integer in 0..=255",
            Kind::U32 => "an integer in 0..=4294967295",
            Kind::U64 => "an unsigned 64-bit integer",
            Kind::I64 => "a signed 64-bit integer",
            Kind::Str => "a string",
            Kind::U64s => "an array of unsigned 64-bit integers",
            Kind::U32s => "an array of unsigned 32-bit integers",
            Kind::LowGuidToU8 => "an object of u32 keys to integers in 0..=255",
            Kind::Objects(_) => "an array of objects",
        }
    }
}

/// One field of a Go struct: its JSON key (the Go field name) and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key Go writes (the exact Go field name).
    pub key: &'static str,
    /// Its type.
    pub kind: Kind,
}

impl Field {
    /// A field.
    pub const fn new(key: &'static str, kind: Kind) -> Self {
        Self { key, kind }
    }
}

/// Go's key folding for struct fields, reduced to what can equal an ASCII field name: ASCII
/// letters compare case-insensitively, the Kelvin sign folds to `K` and the long s to `S`.
fn fold(c: char) -> char {
    match c {
        'a'..='z' => c.to_ascii_uppercase(),
        '\u{212A}' => 'K',
        '\u{017F}' => 'S',
        _ => c,
    }
}

/// Whether JSON key `key` selects the Go field named `name`.
pub fn key_matches(key: &str, name: &str) -> bool {
    key.chars().map(fold).eq(name.chars().map(fold))
}

/// The members of one JSON object, in document order, values still unparsed.
#[derive(Debug, Default)]
pub struct Object<'a> {
    entries: Vec<(String, &'a RawValue)>,
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push((k, v));
                }
                Ok(Object { entries })
            }
        }
        d.deserialize_map(Members)
    }
}

/// What a JSON value starts with, which is all Go looks at before choosing how to decode it.
fn first_byte(raw: &RawValue) -> u8 {
    raw.get()
        .trim_start()
        .as_bytes()
        .first()
        .copied()
        .unwrap_or(b'n')
}

fn is_null(raw: &RawValue) -> bool {
    raw.get().trim() == "null"
}

impl<'a> Object<'a> {
    /// Parses one document that Go would decode into a struct: an object, or `null` (which
    /// leaves every field zero: `Ok(None)`). Anything else is a type error at `path`.
    pub fn parse(doc: &'a str, path: &str) -> Result<Option<Self>, Malformed> {
        let raw: &RawValue =
            serde_json::from_str(doc).map_err(|e| Malformed::Syntax(e.to_string()))?;
        Self::from_raw(raw, path)
    }

    fn from_raw(raw: &'a RawValue, path: &str) -> Result<Option<Self>, Malformed> {
        match first_byte(raw) {
            b'{' => serde_json::from_str(raw.get())
                .map(Some)
                .map_err(|e| Malformed::Syntax(e.to_string())),
            b'n' => Ok(None),
            _ => Err(Malformed::Type {
                field: path.to_string(),
                expected: "an object",
            }),
        }
    }

    /// Every value given for field `name`, in document order.
    fn values(&self, name: &'static str) -> impl DoubleEndedIterator<Item = &'a RawValue> + '_ {
        self.entries
            .iter()
            .filter(move |(k, _)| key_matches(k, name))
            .map(|(_, v)| *v)
    }

    /// The last value given for `name`, whatever it is (Go's `json.RawMessage`).
    pub fn last(&self, name: &'static str) -> Option<&'a RawValue> {
        self.values(name).next_back()
    }

    /// The value Go ends up with for a scalar field: the last non-null one given.
    fn scalar(&self, name: &'static str) -> Option<&'a RawValue> {
        self.values(name).rev().find(|v| !is_null(v))
    }

    /// The value Go ends up with for an array or map field: the last one given (a `null`
    /// empties it).
    fn collection(&self, name: &'static str) -> Option<&'a RawValue> {
        self.values(name).next_back().filter(|v| !is_null(v))
    }

    /// Checks every member whose key selects one of `fields` against its type, as Go's
    /// decoder does (a type error anywhere fails the whole document).
    pub fn check(&self, fields: &'static [Field], path: &str) -> Result<(), Malformed> {
        for (key, raw) in &self.entries {
            let Some(field) = fields.iter().find(|f| key_matches(key, f.key)) else {
                continue; // unknown keys are ignored
            };
            check_value(field.kind, raw, &join(path, field.key))?;
        }
        Ok(())
    }

    /// An unsigned field's value (0 when missing or null). Call [`Object::check`] first: a
    /// value of the wrong type reads as 0 here.
    pub fn uint(&self, name: &'static str) -> u64 {
        self.scalar(name).and_then(read_u64).unwrap_or(0)
    }

    /// A string field's value ("" when missing or null; see [`Object::uint`]).
    pub fn string(&self, name: &'static str) -> String {
        self.scalar(name)
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
            .unwrap_or_default()
    }

    /// An optional unsigned field (Go's `*uint…` with `omitempty`): `None` when missing or
    /// null (see [`Object::uint`]).
    pub fn opt_uint(&self, name: &'static str) -> Option<u64> {
        self.scalar(name).and_then(read_u64)
    }

    /// An optional bool field (Go's `*bool`): `None` when missing or null.
    pub fn opt_flag(&self, name: &'static str) -> Option<bool> {
        self.scalar(name).map(|v| v.get().trim() == "true")
    }

    /// A bool field's value (false when missing or null; see [`Object::uint`]).
    pub fn flag(&self, name: &'static str) -> bool {
        self.scalar(name).is_some_and(|v| v.get().trim() == "true")
    }

    /// An array of unsigned integers (empty when missing or null; null elements read as 0).
    pub fn uints(&self, name: &'static str) -> Vec<u64> {
        let Some(raw) = self.collection(name) else {
            return Vec::new();
        };
        serde_json::from_str::<Vec<&RawValue>>(raw.get())
            .map(|items| {
                items
                    .into_iter()
                    .map(|v| read_u64(v).unwrap_or(0))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An array of structs (empty when missing or null; a null element is a zero struct,
    /// `None`).
    pub fn objects(&self, name: &'static str) -> Vec<Option<Object<'a>>> {
        let Some(raw) = self.collection(name) else {
            return Vec::new();
        };
        serde_json::from_str::<Vec<&'a RawValue>>(raw.get())
            .map(|items| {
                items
                    .into_iter()
                    .map(|v| Object::from_raw(v, "").ok().flatten())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// An integer literal as Go's `strconv.ParseUint` takes it (no sign, fraction or exponent).
fn read_u64(raw: &RawValue) -> Option<u64> {
    let text = raw.get().trim();
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.is_empty() {
        return None;
    }
    text.parse().ok()
}

/// An integer literal as Go's `strconv.ParseInt` takes it.
fn read_i64(raw: &RawValue) -> Option<i64> {
    let text = raw.get().trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn check_value(kind: Kind, raw: &RawValue, path: &str) -> Result<(), Malformed> {
    if is_null(raw) {
        return Ok(()); // Go: null leaves a scalar alone and empties a slice or map
    }
    let wrong = || Malformed::Type {
        field: path.to_string(),
        expected: kind.expected(),
    };
    let ok = match kind {
        Kind::Bool => matches!(raw.get().trim(), "true" | "false"),
        Kind::U8 => read_u64(raw).is_some_and(|n| n <= u64::from(u8::MAX)),
        Kind::U32 => read_u64(raw).is_some_and(|n| n <= u64::from(u32::MAX)),
        Kind::U64 => read_u64(raw).is_some(),
        Kind::I64 => read_i64(raw).is_some(),
        Kind::Str => first_byte(raw) == b'"',
        Kind::U64s | Kind::U32s => {
            let element = if kind == Kind::U64s {
                Kind::U64
            } else {
                Kind::U32
            };
            let items = array(raw).ok_or_else(wrong)?;
            for (i, item) in items.into_iter().enumerate() {
                check_value(element, item, &format!("{path}[{i}]"))?;
            }
            true
        }
        Kind::Objects(fields) => {
            let items = array(raw).ok_or_else(wrong)?;
            for (i, item) in items.into_iter().enumerate() {
                let at = format!("{path}[{i}]");
                if let Some(object) = Object::from_raw(item, &at)? {
                    object.check(fields, &at)?;
                }
            }
            true
        }
        Kind::LowGuidToU8 => {
            if first_byte(raw) != b'{' {
                return Err(wrong());
            }
            let object: Object<'_> =
                serde_json::from_str(raw.get()).map_err(|e| Malformed::Syntax(e.to_string()))?;
            for (key, value) in &object.entries {
                // Go parses an integer map key with ParseUint, then checks it fits.
                let fits = !key.is_empty()
                    && key.bytes().all(|b| b.is_ascii_digit())
                    && key.parse::<u32>().is_ok();
                if !fits {
                    return Err(Malformed::Type {
                        field: format!("{path}[{key:?}]"),
                        expected: "a decimal u32 key",
                    });
                }
                check_value(Kind::U8, value, &format!("{path}[{key:?}]"))?;
            }
            true
        }
    };
    if ok { Ok(()) } else { Err(wrong()) }
}

/// The elements of a JSON array, or `None` when the value is not one.
fn array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if first_byte(raw) != b'[' {
        return None;
    }
    struct Items;
    impl<'de> Visitor<'de> for Items {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                items.push(item);
            }
            Ok(items)
        }
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    serde::Deserializer::deserialize_seq(&mut de, Items).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBER: &[Field] = &[
        Field::new("MemberGUID", Kind::U64),
        Field::new("IsOnline", Kind::Bool),
    ];
    const FIELDS: &[Field] = &[
        Field::new("RealmID", Kind::U32),
        Field::new("Level", Kind::U8),
        Field::new("GUID", Kind::U64),
        Field::new("Stamp", Kind::I64),
        Field::new("Name", Kind::Str),
        Field::new("Flag", Kind::Bool),
        Field::new("Online", Kind::U64s),
        Field::new("Low", Kind::U32s),
        Field::new("Slots", Kind::LowGuidToU8),
        Field::new("Members", Kind::Objects(MEMBER)),
    ];

    fn checked(doc: &str) -> Result<(), Malformed> {
        match Object::parse(doc, "")? {
            Some(o) => o.check(FIELDS, ""),
            None => Ok(()),
        }
    }

    #[test]
    fn keys_match_case_insensitively_and_with_go_folding() {
        assert!(key_matches("realmid", "RealmID"));
        assert!(key_matches("REALMID", "RealmID"));
        assert!(key_matches("\u{212A}ey", "Key"), "Kelvin sign folds to K");
        assert!(key_matches("\u{017F}ender", "Sender"), "long s folds to S");
        assert!(!key_matches("RealmIDs", "RealmID"));
        assert!(!key_matches("Realm_ID", "RealmID"));
    }

    #[test]
    fn the_last_key_wins_and_null_keeps_a_scalar() {
        let o = Object::parse(r#"{"GUID":1,"guid":2,"Guid":null,"x":"unknown"}"#, "")
            .unwrap()
            .unwrap();
        assert_eq!(o.uint("GUID"), 2);
        let o = Object::parse(r#"{"Online":[1,2],"online":null}"#, "")
            .unwrap()
            .unwrap();
        assert!(o.uints("Online").is_empty(), "null empties a slice");
        let o = Object::parse(r#"{"Online":[1,2],"ONLINE":[3]}"#, "")
            .unwrap()
            .unwrap();
        assert_eq!(o.uints("Online"), vec![3]);
    }

    #[test]
    fn missing_and_null_fields_are_zero() {
        let o = Object::parse(r#"{"Online":null,"Name":null,"Members":null}"#, "")
            .unwrap()
            .unwrap();
        assert_eq!(o.uint("GUID"), 0);
        assert_eq!(o.string("Name"), "");
        assert!(o.uints("Online").is_empty());
        assert!(o.objects("Members").is_empty());
        assert!(Object::parse("null", "").unwrap().is_none());
        assert_eq!(checked(r#"{"Online":[null,5],"Members":[null]}"#), Ok(()));
    }

    #[test]
    fn go_accepts_these() {
        for doc in [
            r#"{}"#,
            r#"{"RealmID":4294967295,"Level":255,"GUID":18446744073709551615}"#,
            r#"{"Stamp":-9223372036854775808,"Name":"x\u00e9","Flag":false}"#,
            r#"{"Online":[],"Low":[0,4294967295],"Slots":{"7":1,"007":2}}"#,
            r#"{"Members":[{"memberguid":5,"IsOnline":true,"Other":[1,{}]}]}"#,
            r#"{"unknown":{"deep":[1.5,"x",null]}}"#,
            r#"{"RealmID":null,"Name":null,"Slots":null}"#,
        ] {
            assert_eq!(checked(doc), Ok(()), "{doc}");
        }
    }

    #[test]
    fn go_refuses_these() {
        for (doc, field) in [
            (r#"{"RealmID":4294967296}"#, "RealmID"),
            (r#"{"Level":256}"#, "Level"),
            (r#"{"GUID":-1}"#, "GUID"),
            (r#"{"GUID":-0}"#, "GUID"),
            (r#"{"GUID":1.0}"#, "GUID"),
            (r#"{"GUID":1e2}"#, "GUID"),
            (r#"{"GUID":18446744073709551616}"#, "GUID"),
            (r#"{"GUID":"5"}"#, "GUID"),
            (r#"{"Stamp":1.5}"#, "Stamp"),
            (r#"{"Name":5}"#, "Name"),
            (r#"{"Flag":1}"#, "Flag"),
            (r#"{"Online":5}"#, "Online"),
            (r#"{"Online":[1,"2"]}"#, "Online[1]"),
            (r#"{"Low":[4294967296]}"#, "Low[0]"),
            (r#"{"Slots":[]}"#, "Slots"),
            (r#"{"Slots":{"x":1}}"#, "Slots[\"x\"]"),
            (r#"{"Slots":{"4294967296":1}}"#, "Slots[\"4294967296\"]"),
            (r#"{"Slots":{"1":256}}"#, "Slots[\"1\"]"),
            (r#"{"Members":[5]}"#, "Members[0]"),
            (
                r#"{"Members":[{"MemberGUID":true}]}"#,
                "Members[0].MemberGUID",
            ),
            (
                r#"{"guid":"later keys do not excuse earlier ones","GUID":1}"#,
                "GUID",
            ),
        ] {
            match checked(doc) {
                Err(Malformed::Type { field: f, .. }) => assert_eq!(f, field, "{doc}"),
                other => panic!("{doc}: {other:?}"),
            }
        }
    }

    #[test]
    fn not_json_or_not_an_object_is_refused() {
        assert!(matches!(Object::parse("{", ""), Err(Malformed::Syntax(_))));
        assert!(matches!(
            Object::parse("{} trailing", ""),
            Err(Malformed::Syntax(_))
        ));
        assert!(matches!(
            Object::parse("[1]", "p"),
            Err(Malformed::Type { .. })
        ));
        assert!(matches!(
            Object::parse("\"s\"", "p"),
            Err(Malformed::Type { .. })
        ));
    }

    #[test]
    fn arrays_of_structs_read_their_fields() {
        let o = Object::parse(
            r#"{"Members":[{"MemberGUID":7},null,{"memberGuid":9,"MemberGUID":8}]}"#,
            "",
        )
        .unwrap()
        .unwrap();
        let guids: Vec<u64> = o
            .objects("Members")
            .iter()
            .map(|m| m.as_ref().map_or(0, |m| m.uint("MemberGUID")))
            .collect();
        assert_eq!(guids, vec![7, 0, 8]);
    }
}
