//! The gateway's client-stream decoder under arbitrary input: the first byte picks whether the
//! cipher is on and how the rest is chunked. It must never panic, never hand out a body over
//! the client limit, and never answer `NeedMore(0)`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waygate::wire::frame::CLIENT_MAX_BODY_BYTES;
use waygate::wire::opcode::NUM_MSG_TYPES;
use waygate::wire::{ClientHeaderDecoder, Decoded, ServerCiphers, SessionKey};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut dec = ClientHeaderDecoder::for_client();
    if mode & 1 == 1 {
        dec.start_cipher(ServerCiphers::new(&SessionKey([mode; 40])).inbound);
    }
    let chunk = usize::from(mode >> 1).max(1);
    for piece in rest.chunks(chunk) {
        dec.extend(piece);
        loop {
            match dec.decode() {
                Ok(Decoded::Packet(p)) => {
                    assert!(p.body.len() <= CLIENT_MAX_BODY_BYTES);
                    assert!(p.opcode.0 < NUM_MSG_TYPES);
                }
                Ok(Decoded::NeedMore(n)) => {
                    assert!(n > 0);
                    break;
                }
                Err(_) => return,
            }
        }
    }
});
