//! Bounds-checked little-endian reader and writer for packet bodies.
//!
//! The reader never panics and never allocates more than the input it was given: every
//! read checks the remaining length first, and strings are limited both by the remaining
//! body and by a caller-chosen cap.

use bytes::{BufMut, BytesMut};

/// Why a packet body could not be decoded. Always the sender's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body ended before a field of `needed` bytes at `offset`.
    #[error("body truncated: field `{field}` needs {needed} bytes at offset {offset}")]
    Truncated {
        /// Name of the field being read.
        field: &'static str,
        /// Offset of the field in the body.
        offset: usize,
        /// Bytes the field needed.
        needed: usize,
    },
    /// A C string had no terminating NUL within its cap.
    #[error("string `{field}` at offset {offset} is unterminated or longer than {max_len} bytes")]
    StringTooLong {
        /// Name of the field being read.
        field: &'static str,
        /// Offset of the string in the body.
        offset: usize,
        /// The cap that was exceeded.
        max_len: usize,
    },
    /// A string was not valid UTF-8.
    #[error("string `{field}` at offset {offset} is not UTF-8")]
    NotUtf8 {
        /// Name of the field being read.
        field: &'static str,
        /// Offset of the string in the body.
        offset: usize,
    },
    /// A field held a value the protocol does not allow.
    #[error("field `{field}` has invalid value {value:#x}")]
    InvalidValue {
        /// Name of the field.
        field: &'static str,
        /// The offending value.
        value: u64,
    },
    /// A count or size field exceeds what the gateway accepts.
    #[error("field `{field}` = {value} exceeds the limit {limit}")]
    TooLarge {
        /// Name of the field.
        field: &'static str,
        /// The offending value.
        value: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A zlib stream was corrupt.
    #[error("compressed `{field}` is corrupt")]
    Inflate {
        /// Name of the field.
        field: &'static str,
    },
}

/// A cursor over a packet body.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes `n` bytes.
    pub fn bytes(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                field,
                offset: self.pos,
                needed: n,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(field, N)?);
        Ok(out)
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian IEEE `f32`.
    pub fn f32(&mut self, field: &'static str) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.array(field)?))
    }

    /// Reads a NUL-terminated UTF-8 string of at most `max_len` bytes (NUL excluded).
    pub fn cstr(&mut self, field: &'static str, max_len: usize) -> Result<&'a str, DecodeError> {
        let start = self.pos;
        let window = &self.buf[start..];
        let limit = window.len().min(max_len.saturating_add(1));
        let Some(nul) = window[..limit].iter().position(|&b| b == 0) else {
            return Err(DecodeError::StringTooLong {
                field,
                offset: start,
                max_len,
            });
        };
        let text = std::str::from_utf8(&window[..nul]).map_err(|_| DecodeError::NotUtf8 {
            field,
            offset: start,
        })?;
        self.pos = start + nul + 1;
        Ok(text)
    }

    /// Reads a packed GUID: a mask byte, then one byte per set bit, least significant first.
    pub fn packed_guid(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let mask = self.u8(field)?;
        let mut value = 0u64;
        for i in 0..8 {
            if mask & (1 << i) != 0 {
                value |= u64::from(self.u8(field)?) << (8 * i);
            }
        }
        Ok(value)
    }

    /// Reads a `u32` count and checks it against `limit` and against the bytes left, given
    /// that every element takes at least `min_element_bytes`. This is what keeps a decoder
    /// from allocating more than the packet's own size.
    pub fn count_u32(
        &mut self,
        field: &'static str,
        limit: usize,
        min_element_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let n = self.u32(field)?;
        self.check_count(field, u64::from(n), limit, min_element_bytes)
    }

    /// Like [`Reader::count_u32`] for an already-read count.
    pub fn check_count(
        &self,
        field: &'static str,
        n: u64,
        limit: usize,
        min_element_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let fits = (self.remaining() / min_element_bytes.max(1)) as u64;
        let cap = fits.min(limit as u64);
        if n > cap {
            return Err(DecodeError::TooLarge {
                field,
                value: n,
                limit: cap,
            });
        }
        Ok(n as usize)
    }
}

/// Writing helpers on top of [`BytesMut`].
pub trait WriteExt {
    /// Writes a string and its terminating NUL.
    fn put_cstr(&mut self, s: &str);
    /// Writes a packed GUID.
    fn put_packed_guid(&mut self, guid: u64);
}

impl WriteExt for BytesMut {
    fn put_cstr(&mut self, s: &str) {
        // A NUL inside the string would end it early on the other side; cut it there so the
        // encoding stays decodable to the same value the receiver will see.
        let bytes = s.as_bytes();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        self.put_slice(&bytes[..end]);
        self.put_u8(0);
    }

    fn put_packed_guid(&mut self, guid: u64) {
        let mut mask = 0u8;
        let mut tmp = [0u8; 8];
        let mut n = 0;
        for (i, b) in guid.to_le_bytes().into_iter().enumerate() {
            if b != 0 {
                mask |= 1 << i;
                tmp[n] = b;
                n += 1;
            }
        }
        self.put_u8(mask);
        self.put_slice(&tmp[..n]);
    }
}

/// Bytes a packed GUID takes on the wire.
pub fn packed_guid_len(guid: u64) -> usize {
    1 + guid.to_le_bytes().iter().filter(|&&b| b != 0).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packed_guid_known_bytes() {
        let mut b = BytesMut::new();
        b.put_packed_guid(0x0000_0000_0000_0001);
        assert_eq!(&b[..], &[0x01, 0x01]);
        b.clear();
        b.put_packed_guid(0x0700_0000_0000_1200);
        assert_eq!(&b[..], &[0x82, 0x12, 0x07]);
        b.clear();
        b.put_packed_guid(0);
        assert_eq!(&b[..], &[0x00]);
    }

    #[test]
    fn cstr_cap_is_enforced() {
        let mut r = Reader::new(b"abcd\0");
        assert!(matches!(
            r.cstr("s", 3),
            Err(DecodeError::StringTooLong { .. })
        ));
        let mut r = Reader::new(b"abcd\0");
        assert_eq!(r.cstr("s", 4), Ok("abcd"));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn count_is_bounded_by_remaining_bytes() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        assert!(matches!(
            r.count_u32("n", usize::MAX, 1),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn packed_guid_round_trip(guid in any::<u64>()) {
            let mut b = BytesMut::new();
            b.put_packed_guid(guid);
            prop_assert_eq!(b.len(), packed_guid_len(guid));
            let mut r = Reader::new(&b);
            prop_assert_eq!(r.packed_guid("g").unwrap(), guid);
            prop_assert_eq!(r.remaining(), 0);
        }
    }
}
