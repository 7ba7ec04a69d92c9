//! The snapshot format for rendered packets (DESIGN.md section 7): opcode name and number,
//! body size, a hex dump of the body, then the decoded fields one per line.

use std::fmt::Write as _;

use super::opcode::Opcode;

/// A hex dump: 16 bytes a line, with the offset and the printable ASCII.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "{:04x}:", i * 16);
        for b in chunk {
            let _ = write!(out, " {b:02x}");
        }
        for _ in chunk.len()..16 {
            out.push_str("   ");
        }
        out.push_str("  |");
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push_str("|\n");
    }
    out
}

/// The snapshot text of one rendered packet. `fields` is the decoded form, one field per line
/// (for example a pretty `Debug` of the typed packet).
pub fn packet_snapshot(opcode: Opcode, body: &[u8], fields: &str) -> String {
    let name = opcode.name().unwrap_or("UNKNOWN");
    format!(
        "opcode: {name} (0x{:03X})\nbody: {} bytes\n{}fields:\n{}\n",
        opcode.0,
        body.len(),
        hex_dump(body),
        fields.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_dump_layout() {
        let dump = hex_dump(b"AB\x00\x01abcdefghijklmnopq");
        assert_eq!(
            dump,
            "0000: 41 42 00 01 61 62 63 64 65 66 67 68 69 6a 6b 6c  |AB..abcdefghijkl|\n\
             0010: 6d 6e 6f 70 71                                   |mnopq|\n"
        );
    }
}
