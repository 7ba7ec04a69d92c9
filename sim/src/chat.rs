//! A simulated chatserver: whispers between the characters in world on the realm's gateways.
//!
//! It stands in for ToCloud9's chatserver behind the gateway's `PresentServices` seam. A
//! whisper's request takes `latency_ms` to arrive; the receiver is looked up by name (as
//! charserver knows the characters) and its event
//! (`chat.gw.{gateway}.income.whisper`, ToCloud9's payload) is put straight into the inbox of
//! the gateway that has the character in world, as that gateway's NATS subscriber would. The
//! answer takes `latency_ms` back: delivered, the receiver not in world anywhere, or failed
//! when the receiver's inbox was full. Every other call fails: the simulator runs no other
//! cluster service.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use waygate::driver::{Delivery, Gateway};
use waygate::present::chat::{Whisper, WhisperOutcome};
use waygate::present::{ClusterEvent, ServiceAnswer, ServiceRequest};
use waygate::runtime::{BoxFuture, PresentServices};
use waygate::session::CharacterGuid;

/// Where a gateway is, once it is built.
pub type GatewaySlot = Arc<Mutex<Option<Arc<Gateway>>>>;

/// The chatserver.
pub struct SimChat {
    /// The realm's gateways, by index (their ids in subjects).
    pub gateways: Vec<GatewaySlot>,
    /// Every character of the realm: name to guid.
    pub characters: BTreeMap<String, u64>,
    /// One way, request or answer.
    pub latency_ms: u64,
}

impl SimChat {
    fn route(&self, w: &Whisper) -> WhisperOutcome {
        let Some(&guid) = self.characters.get(&w.receiver_name) else {
            return WhisperOutcome::NotFound;
        };
        for (g, slot) in self.gateways.iter().enumerate() {
            let gateway = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let Some(gateway) = gateway else { continue };
            let event = ClusterEvent {
                subject: format!("chat.gw.{g}.income.whisper"),
                payload: payload(w, guid),
            };
            match gateway.players().deliver(CharacterGuid(guid), event) {
                Delivery::Queued => return WhisperOutcome::Delivered { receiver: guid },
                Delivery::Dropped => {
                    return WhisperOutcome::Failed(format!(
                        "gateway {g} dropped it: the receiver's queue is full"
                    ));
                }
                Delivery::NotHere => {}
            }
        }
        WhisperOutcome::NotFound
    }
}

/// `ChatEventIncomingWhisperPayload`.
fn payload(w: &Whisper, receiver: u64) -> Bytes {
    let value = serde_json::json!({
        "SenderGUID": w.sender,
        "SenderName": w.sender_name,
        "SenderRace": w.sender_race,
        "ReceiverGUID": receiver,
        "ReceiverName": w.receiver_name,
        "Language": w.language,
        "Msg": w.message,
    });
    Bytes::from(value.to_string())
}

impl PresentServices for SimChat {
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer> {
        Box::pin(async move {
            let ServiceRequest::Whisper(whisper) = request else {
                let service = request.service();
                return request.failed(format!("no {service} service in the simulator"));
            };
            let latency = Duration::from_millis(self.latency_ms);
            tokio::time::sleep(latency).await;
            let outcome = self.route(&whisper);
            tokio::time::sleep(latency).await;
            ServiceAnswer::Whisper { whisper, outcome }
        })
    }
}
