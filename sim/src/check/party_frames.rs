//! The party frames of group members stay live and true, wherever each member plays.
//!
//! **Invariant**, for every pair of members of a group, an observer and a member, both of
//! whose scripts ended cleanly:
//! - while both were in world, the observer's client got a frame for the member at least
//!   every [`PARTY_FRAME_GAP_MS`] of the time the member was settled on a worldserver (the
//!   member's worldserver changes its health every `health_tick_ms`, far more often). The
//!   time the member spent on its way between worldservers (a teleport, a redirect, a
//!   recovery: from its loading screen to its first time sync after it) does not count: no
//!   worldserver describes it then;
//! - no client gets a frame of a character outside its group;
//! - every health a frame shows is one the member's worldserver gave it: the self-create's,
//!   or a tick's, which names the member (`waygate::peers::worldserver::ticked_health`).
//!   A frame that shows another character's health is a mix-up.
//!
//! **Source of truth**: the bots' reports (the frames each client received, and when each
//! character was in world, by the bots' own clocks) and the fake worldservers' health rule.
//! Nothing the gateway or the simulated groupserver says is read.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use waygate::peers::worldserver::{SELF_CREATE_HEALTH, ticked_health};

use super::BotResult;

/// Longest time a member settled in world may go without a frame at an observer in world.
pub const PARTY_FRAME_GAP_MS: u64 = 5_000;

/// How much of `[a, b]` lies outside every span of `moving`.
fn settled(a: Instant, b: Instant, moving: &[(Instant, Instant)]) -> Duration {
    let away: Duration = moving
        .iter()
        .map(|(from, until)| (*until).min(b).saturating_duration_since((*from).max(a)))
        .sum();
    b.saturating_duration_since(a).saturating_sub(away)
}

/// Whether `health` is one `guid`'s worldserver may have given it.
fn is_its_health(guid: u64, health: u32) -> bool {
    health == SELF_CREATE_HEALTH || (0..10).any(|tick| ticked_health(guid, tick) == health)
}

/// Judges the party frames; `party_of` gives each bot's group (absent: none) and `guid_of`
/// each bot's character. Returns the violations (untagged) and the frames received.
pub fn judge(
    results: &[BotResult],
    party_of: &BTreeMap<usize, u64>,
    guid_of: &BTreeMap<usize, u64>,
) -> (Vec<String>, usize) {
    let mut violations = Vec::new();
    let gap = Duration::from_millis(PARTY_FRAME_GAP_MS);
    let mut frames = 0;
    let bot_of_guid: BTreeMap<u64, usize> = guid_of.iter().map(|(b, g)| (*g, *b)).collect();
    for (index, report, result, _) in results {
        frames += report.party_frames.len();
        for (guid, health, _) in &report.party_frames {
            let theirs = bot_of_guid.get(guid).and_then(|b| party_of.get(b));
            if theirs.is_none() || theirs != party_of.get(index) {
                violations.push(format!(
                    "bot{index} was shown a frame of character {guid}, who is not in its group"
                ));
            }
            if let Some(h) = health
                && !is_its_health(*guid, *h)
            {
                violations.push(format!(
                    "bot{index} was shown health {h} for character {guid}, which its worldserver never gave it"
                ));
            }
        }
        let Some(party) = party_of.get(index) else {
            continue;
        };
        if result.is_err() {
            continue;
        }
        for (member, m_report, m_result, _) in results {
            if member == index || party_of.get(member) != Some(party) || m_result.is_err() {
                continue;
            }
            let Some(&guid) = guid_of.get(member) else {
                continue;
            };
            let seen: Vec<_> = (report.party_frames.iter())
                .filter(|(g, _, _)| *g == guid)
                .map(|(_, _, at)| *at)
                .collect();
            for (o_from, o_until) in &report.world_spans {
                for (m_from, m_until) in &m_report.world_spans {
                    let (from, until) = ((*o_from).max(*m_from), (*o_until).min(*m_until));
                    if until <= from {
                        continue;
                    }
                    let moving = &m_report.moving_spans;
                    let mut last = from;
                    for at in seen.iter().filter(|at| **at > from && **at <= until) {
                        if settled(last, *at, moving) > gap {
                            break;
                        }
                        last = *at;
                    }
                    if settled(last, until, moving) > gap {
                        violations.push(format!(
                            "bot{index} saw no frame of bot{member} (character {guid}) for over {} ms while both were in world, the member settled (from {} ms into their time together, which lasted {} ms)",
                            gap.as_millis(),
                            (last - from).as_millis(),
                            (until - from).as_millis()
                        ));
                    }
                }
            }
        }
    }
    (violations, frames)
}

#[cfg(test)]
mod tests {
    use waygate::peers::bot::BotReport;

    use super::*;

    fn bot(index: usize, f: impl FnOnce(&mut BotReport)) -> BotResult {
        crate::check::bot_result(index, true, f)
    }

    fn maps() -> (BTreeMap<usize, u64>, BTreeMap<usize, u64>) {
        ([(0, 1), (1, 1)].into(), [(0, 1000), (1, 1001)].into())
    }

    /// Bot 0 observes bot 1 (character 1001); both in world for 30 s; frames at `at` seconds.
    fn run(at: &[u64], health: u32) -> Vec<String> {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let results = vec![
            bot(0, |r| {
                r.world_spans.push((s(0), s(30)));
                r.party_frames = at.iter().map(|n| (1001, Some(health), s(*n))).collect();
            }),
            bot(1, |r| {
                r.world_spans.push((s(0), s(30)));
                // Bot 1's view of bot 0 is always fine.
                r.party_frames = (1..30).map(|n| (1000, None, s(n))).collect();
            }),
        ];
        let (party, guid) = maps();
        judge(&results, &party, &guid).0
    }

    #[test]
    fn frames_that_keep_coming_pass() {
        let frames: Vec<u64> = (1..30).step_by(3).collect();
        assert_eq!(run(&frames, ticked_health(1001, 3)), Vec::<String>::new());
        assert_eq!(run(&frames, SELF_CREATE_HEALTH), Vec::<String>::new());
    }

    #[test]
    fn a_stale_frame_is_flagged() {
        let v = run(&[1, 4, 7, 25, 28], ticked_health(1001, 0));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("no frame of bot1"), "{v:?}");
        assert_eq!(run(&[], ticked_health(1001, 0)).len(), 1);
    }

    #[test]
    fn time_the_member_spends_moving_does_not_count() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let results = |moving: (u64, u64)| {
            vec![
                bot(0, |r| {
                    r.world_spans.push((s(0), s(30)));
                    r.party_frames = [1, 4, 7, 16, 19, 22, 25, 28]
                        .iter()
                        .map(|n| (1001, None, s(*n)))
                        .collect();
                }),
                bot(1, |r| {
                    r.world_spans.push((s(0), s(30)));
                    r.moving_spans.push((s(moving.0), s(moving.1)));
                    r.party_frames = (1..30).map(|n| (1000, None, s(n))).collect();
                }),
            ]
        };
        let (party, guid) = maps();
        // Nine seconds without a frame, six of them on the way: three settled.
        assert_eq!(
            judge(&results((8, 14)), &party, &guid).0,
            Vec::<String>::new()
        );
        // Only two on the way: seven settled.
        assert_eq!(judge(&results((8, 10)), &party, &guid).0.len(), 1);
        assert_eq!(
            settled(s(0), s(10), &[(s(2), s(4)), (s(9), s(20))]),
            Duration::from_secs(7)
        );
    }

    #[test]
    fn another_members_health_is_a_mix_up() {
        let frames: Vec<u64> = (1..30).step_by(3).collect();
        let v = run(&frames, ticked_health(1002, 0));
        assert_eq!(v.len(), frames.len(), "{v:?}");
        assert!(v[0].contains("never gave it"), "{v:?}");
    }

    #[test]
    fn a_frame_of_a_stranger_is_flagged() {
        let t0 = Instant::now();
        let results = vec![bot(0, |r| r.party_frames.push((4242, None, t0)))];
        let (party, guid) = maps();
        let v = judge(&results, &party, &guid).0;
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("not in its group"), "{v:?}");
    }

    #[test]
    fn members_never_in_world_together_owe_nothing() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let results = vec![
            bot(0, |r| r.world_spans.push((s(0), s(10)))),
            bot(1, |r| r.world_spans.push((s(20), s(30)))),
        ];
        let (party, guid) = maps();
        assert_eq!(judge(&results, &party, &guid).0, Vec::<String>::new());
    }
}
