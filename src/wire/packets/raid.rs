//! Raid target icons (MSG_RAID_TARGET_UPDATE) and the dungeon and raid difficulty
//! (MSG_SET_DUNGEON_DIFFICULTY, MSG_SET_RAID_DIFFICULTY), both ways, as AzerothCore reads and
//! writes them. The two difficulty opcodes share their layouts, so these types carry no
//! opcode of their own.

use bytes::{BufMut, BytesMut};

use crate::wire::codec::{DecodeError, Reader};

/// Target icons a group has (star .. skull).
pub const TARGET_ICONS: usize = 8;

/// The icon value that asks for the whole list.
pub const TARGET_ICON_LIST: u8 = 0xFF;

/// MSG_RAID_TARGET_UPDATE from the client: u8 icon, then u64 target unless the icon is
/// [`TARGET_ICON_LIST`] (a request for the list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RaidTargetRequest {
    /// The icon (0..8), or [`TARGET_ICON_LIST`].
    pub icon: u8,
    /// The target (0 for a list request, or to clear the icon).
    pub target: u64,
}

impl RaidTargetRequest {
    /// Whether this asks for the list.
    pub fn is_list(&self) -> bool {
        self.icon == TARGET_ICON_LIST
    }

    /// Writes the body.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.icon);
        if !self.is_list() {
            out.put_u64_le(self.target);
        }
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let icon = r.u8("icon")?;
        let target = if icon == TARGET_ICON_LIST {
            0
        } else {
            r.u64("target")?
        };
        Ok(Self { icon, target })
    }
}

/// MSG_RAID_TARGET_UPDATE to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaidTargets {
    /// u8 1, then (u8 icon, u64 target) for each icon that is set: the whole list.
    List(Vec<(u8, u64)>),
    /// u8 0, u64 who set it, u8 icon, u64 target: one icon changed.
    Set {
        /// Who set it.
        updater: u64,
        /// The icon.
        icon: u8,
        /// Its target (0: cleared).
        target: u64,
    },
}

impl RaidTargets {
    /// Writes the body (a list keeps at most [`TARGET_ICONS`] entries).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::List(icons) => {
                out.put_u8(1);
                for &(icon, target) in icons.iter().take(TARGET_ICONS) {
                    out.put_u8(icon);
                    out.put_u64_le(target);
                }
            }
            Self::Set {
                updater,
                icon,
                target,
            } => {
                out.put_u8(0);
                out.put_u64_le(*updater);
                out.put_u8(*icon);
                out.put_u64_le(*target);
            }
        }
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        match r.u8("list")? {
            0 => Ok(Self::Set {
                updater: r.u64("updater")?,
                icon: r.u8("icon")?,
                target: r.u64("target")?,
            }),
            1 => {
                let mut icons = Vec::new();
                while r.remaining() > 0 {
                    if icons.len() == TARGET_ICONS {
                        return Err(DecodeError::TooLarge {
                            field: "icons",
                            value: TARGET_ICONS as u64 + 1,
                            limit: TARGET_ICONS as u64,
                        });
                    }
                    icons.push((r.u8("icon")?, r.u64("target")?));
                }
                Ok(Self::List(icons))
            }
            other => Err(DecodeError::InvalidValue {
                field: "list",
                value: u64::from(other),
            }),
        }
    }
}

/// MSG_SET_DUNGEON_DIFFICULTY or MSG_SET_RAID_DIFFICULTY to the client: u32 difficulty,
/// u32 1, u32 whether the player is in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DifficultyChanged {
    /// The difficulty.
    pub difficulty: u32,
    /// Whether it is the group's.
    pub in_group: bool,
}

impl DifficultyChanged {
    /// Writes the body.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.difficulty);
        out.put_u32_le(1);
        out.put_u32_le(u32::from(self.in_group));
    }

    /// Reads a body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let difficulty = r.u32("difficulty")?;
        r.u32("unknown")?;
        let in_group = match r.u32("in group")? {
            0 => false,
            1 => true,
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "in group",
                    value: u64::from(other),
                });
            }
        };
        Ok(Self {
            difficulty,
            in_group,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut out = BytesMut::new();
        f(&mut out);
        out.to_vec()
    }

    #[test]
    fn layouts() {
        let ask = RaidTargetRequest {
            icon: TARGET_ICON_LIST,
            target: 0,
        };
        assert_eq!(bytes(|o| ask.encode(o)), [0xFF]);
        assert_eq!(RaidTargetRequest::decode(&[0xFF]), Ok(ask));
        let set = RaidTargetRequest { icon: 7, target: 9 };
        assert_eq!(bytes(|o| set.encode(o)), [7, 9, 0, 0, 0, 0, 0, 0, 0]);
        assert!(RaidTargetRequest::decode(&[7, 9]).is_err());
        let list = RaidTargets::List(vec![(0, 5), (7, 9)]);
        let body = bytes(|o| list.encode(o));
        assert_eq!(
            body,
            [1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7, 9, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(RaidTargets::decode(&body), Ok(list));
        let one = RaidTargets::Set {
            updater: 1,
            icon: 2,
            target: 3,
        };
        let body = bytes(|o| one.encode(o));
        assert_eq!(body, [0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(RaidTargets::decode(&body), Ok(one));
        assert!(RaidTargets::decode(&[2]).is_err());
        let changed = DifficultyChanged {
            difficulty: 1,
            in_group: true,
        };
        let body = bytes(|o| changed.encode(o));
        assert_eq!(body, [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(DifficultyChanged::decode(&body), Ok(changed));
    }

    #[test]
    fn a_list_is_bounded() {
        let long = RaidTargets::List((0..9).map(|i| (i, u64::from(i))).collect());
        let body = bytes(|o| long.encode(o));
        assert_eq!(body.len(), 1 + 9 * TARGET_ICONS);
        let mut over = body.clone();
        over.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(RaidTargets::decode(&over).is_err());
    }
}
