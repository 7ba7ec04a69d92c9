//! Fake cluster-mode worldserver (in progress).
