//! CMSG_AUTH_SESSION parsing under arbitrary input, addon inflation included: never a panic,
//! never more than the inflation cap, and the raw body is kept exactly as received.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use waygate::wire::auth::{ACCOUNT_NAME_MAX_BYTES, AuthSession};
use waygate::wire::SessionKey;

const ADDON_CAP_BYTES: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(session) = AuthSession::decode(body.clone()) else {
        return;
    };
    assert_eq!(session.raw, body);
    assert!(session.account.len() <= ACCOUNT_NAME_MAX_BYTES);
    let _ = session.verify(0x1234_5678, &SessionKey([0; 40]));
    if let Ok(list) = session.addons(ADDON_CAP_BYTES) {
        let names: usize = list.addons.iter().map(|a| a.name.len() + 14).sum();
        assert!(names <= ADDON_CAP_BYTES + 4);
    }
});
