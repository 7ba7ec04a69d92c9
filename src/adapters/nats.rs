//! NATS behind the event bus seam: ToCloud9's envelope, published and subscribed subjects.
