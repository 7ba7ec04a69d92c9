//! /who across the cluster, through ToCloud9's charserver: CMSG_WHO becomes `WhoQuery` (the
//! asker's guid and realm, the filters as the client sent them), and its answer SMSG_WHO as
//! AzerothCore writes it (at most [`WHO_DISPLAY_MAX`] entries, the total matches beside them).
//! When charserver fails or does not answer, the client gets an empty list and a system line
//! saying why. A query that does not decode (too many zones or strings) goes to the
//! worldserver as it came, which ignores it as AzerothCore does.

use super::{Action, Me, ServiceRequest, system_line};
use crate::wire::packets::{WhoList, WhoRequest, WirePacket};

pub use crate::wire::packets::WHO_DISPLAY_MAX;

/// A /who query on its way to charserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoQuery {
    /// Who asks.
    pub asker: u64,
    /// The client's filters.
    pub request: WhoRequest,
}

/// The system line beside an empty list when charserver could not answer.
pub const UNAVAILABLE_LINE: &str =
    "The who list is unavailable: the characters service is not answering.";

/// A decoded CMSG_WHO.
pub(super) fn from_client(me: &Me, request: WhoRequest, out: &mut Vec<Action>) {
    out.push(Action::Call(ServiceRequest::Who(WhoQuery {
        asker: me.guid,
        request,
    })));
}

/// charserver answered (`Err`: the call failed; the detail is for logs).
pub(super) fn answered(outcome: Result<WhoList, String>, out: &mut Vec<Action>) {
    match outcome {
        Ok(list) => out.push(Action::ToClient(WhoList::OPCODE, list.to_body())),
        Err(_) => {
            out.push(Action::ToClient(
                WhoList::OPCODE,
                WhoList::default().to_body(),
            ));
            out.push(system_line(UNAVAILABLE_LINE));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Opcode;
    use crate::wire::packets::{SystemMessage, WhoEntry};

    #[test]
    fn a_query_is_a_call_and_its_answers_render() {
        let me = Me {
            guid: 7,
            ..Me::default()
        };
        let request = WhoRequest {
            level_max: 80,
            player_name: "bo".into(),
            ..WhoRequest::default()
        };
        let mut out = Vec::new();
        from_client(&me, request.clone(), &mut out);
        assert_eq!(
            out,
            vec![Action::Call(ServiceRequest::Who(WhoQuery {
                asker: 7,
                request
            }))]
        );
        let list = WhoList {
            matches: 1,
            entries: vec![WhoEntry {
                name: "Bob".into(),
                level: 80,
                ..WhoEntry::default()
            }],
        };
        let mut out = Vec::new();
        answered(Ok(list.clone()), &mut out);
        assert_eq!(
            out,
            vec![Action::ToClient(Opcode::SMSG_WHO, list.to_body())]
        );
        let mut out = Vec::new();
        answered(Err("characters: WhoQuery: Unavailable".into()), &mut out);
        match out.as_slice() {
            [
                Action::ToClient(Opcode::SMSG_WHO, empty),
                Action::ToClient(Opcode::SMSG_MESSAGECHAT, line),
            ] => {
                assert_eq!(WhoList::decode(empty), Ok(WhoList::default()));
                assert_eq!(
                    SystemMessage::decode(line).map(|m| m.text),
                    Ok(UNAVAILABLE_LINE.to_owned())
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
