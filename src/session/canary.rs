//! Deliberately planted bugs, compiled in only with the `canaries` cargo feature. The
//! simulator runs each one over its sweep (`ci/sim --canaries`) and must catch every one: a
//! canary that is never caught means a checker is dead.

/// A planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Canary {
    /// After a lost connection, log in elsewhere without waiting for the old worldserver's
    /// linger (dual presence while a partition hides the old session).
    SkipLinger,
    /// Close the old worldserver's connection as soon as READY arrives, before its kick (the
    /// player lingers there while it logs in on the new one).
    CloseBeforeKick,
    /// Recovery backoff that doubles past its cap.
    UncappedBackoff,
    /// Forward the cluster's TC9_SMSG_READY_FOR_REDIRECT to the game client.
    LeakClusterOpcode,
    /// After a lost connection, keep the dead link as the player's worldserver and never
    /// reconnect.
    ReuseDeadLink,
    /// Place new players on the map's first owner whatever its health.
    PlaceOnDegraded,
    /// Place characters without asking the gateway-wide ledger which worldserver may still
    /// hold them (a reconnecting player logs in elsewhere while the old one lingers).
    IgnoreHolds,
    /// Send the client packets held during a switch to the next worldserver newest first.
    ReorderHeld,
    /// Deliver what the old worldserver said during a switch to the client after all.
    ForwardOldWorld,
    /// Placements ignore the operator's drains: the view never hears of them, so a drained
    /// worldserver keeps admitting logins and layer switches.
    IgnoreOperatorDrain,
    /// A login skips its account claim: the account is not fenced across gateways (nor on
    /// one), so two logins of one account both proceed.
    SkipAccountClaim,
    /// An account taken over from another gateway brings no holds: the new gateway places
    /// the character anywhere while the old worldserver may still linger it.
    ForgetFencedHolds,
    /// A session that ends leaves its worldserver connections open (never closed, never
    /// dropped): the worldserver keeps the player in world for ever.
    LeakWorldLinks,
    /// A login that fails is never answered: no SMSG_CHARACTER_LOGIN_FAILED, the client
    /// waits at the character screen for ever.
    SwallowLoginFailure,
    /// The gateway that owns an account ignores a newer login's eviction request: the older
    /// session plays on, and the newer login waits out its claim and is refused.
    IgnoreEviction,
    /// Cluster events that arrive while the player moves between worldservers (a handoff, a
    /// layer switch, a recovery) are dropped: a whisper sent then is lost, though its sender
    /// was told it was delivered.
    DropEventsWhileMoving,
    /// After its first move to another worldserver, a player's state is no longer read from
    /// object updates: its group members' frames of it go stale.
    StaleStateAfterMove,
}

impl Canary {
    /// Every canary.
    pub const ALL: [Canary; 17] = [
        Canary::SkipLinger,
        Canary::CloseBeforeKick,
        Canary::UncappedBackoff,
        Canary::LeakClusterOpcode,
        Canary::ReuseDeadLink,
        Canary::PlaceOnDegraded,
        Canary::IgnoreHolds,
        Canary::ReorderHeld,
        Canary::ForwardOldWorld,
        Canary::IgnoreOperatorDrain,
        Canary::SkipAccountClaim,
        Canary::ForgetFencedHolds,
        Canary::LeakWorldLinks,
        Canary::SwallowLoginFailure,
        Canary::IgnoreEviction,
        Canary::DropEventsWhileMoving,
        Canary::StaleStateAfterMove,
    ];

    /// A short name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Canary::SkipLinger => "skip-linger",
            Canary::CloseBeforeKick => "close-before-kick",
            Canary::UncappedBackoff => "uncapped-backoff",
            Canary::LeakClusterOpcode => "leak-cluster-opcode",
            Canary::ReuseDeadLink => "reuse-dead-link",
            Canary::PlaceOnDegraded => "place-on-degraded",
            Canary::IgnoreHolds => "ignore-holds",
            Canary::ReorderHeld => "reorder-held",
            Canary::ForwardOldWorld => "forward-old-world",
            Canary::IgnoreOperatorDrain => "ignore-operator-drain",
            Canary::SkipAccountClaim => "skip-account-claim",
            Canary::ForgetFencedHolds => "forget-fenced-holds",
            Canary::LeakWorldLinks => "leak-world-links",
            Canary::SwallowLoginFailure => "swallow-login-failure",
            Canary::IgnoreEviction => "ignore-eviction",
            Canary::DropEventsWhileMoving => "drop-events-while-moving",
            Canary::StaleStateAfterMove => "stale-state-after-move",
        }
    }
}
