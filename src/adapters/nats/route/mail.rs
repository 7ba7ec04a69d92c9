//! The mail family's payload (CONTRACTS.md section 2.4): Go's struct, field by field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{I64, U32, U64};

/// `MailEventIncomingMailPayload`
pub(super) const MAIL_INCOMING_MAIL: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("SenderGUID", U64),
    Field::new("ReceiverGUID", U64),
    Field::new("DeliveryTimestamp", I64),
    Field::new("MailID", U32),
];
