//! Guild chat reaches every other member in world, once, wherever each one plays.
//!
//! **Invariant**, for every guild line a bot said:
//! - no client gets it twice, and no client outside the guild gets it;
//! - if its sender saw it echoed (the server took it), every other member whose character was
//!   in world from before it was said until [`GUILD_DELIVERY_SLACK_MS`] after got it, on
//!   whichever worldserver and gateway it played, moving or not. A line said while its sender
//!   was moving between worldservers, or within [`GUILD_DELIVERY_SLACK_MS`] before its
//!   client learned that it was (the line may have reached the gateway after the move began),
//!   counts as said when the sender arrived: the gateway holds what a client sends on its way
//!   and hands it on at the arrival (a real client cannot type behind a loading screen; the
//!   bots do);
//! - if its sender did not see it echoed, the sender was told it was not delivered (counted
//!   per sender, as those lines carry no text).
//!
//! A bot whose script failed is not judged as a receiver nor as a sender (its client closed;
//! liveness judges why).
//!
//! **Source of truth**: the bots' reports: what each client said and when, what it saw
//! echoed, what it received, and when its character was in world (from the end of its login
//! to its logout request or close, by its own clock). Nothing the gateway or the simulated
//! guildserver says is read.

use std::collections::BTreeMap;
use std::time::Duration;

use super::BotResult;

/// How long after a line is said every member in world must have it: the guild service's
/// round trip and the gateways' delivery, with room to spare.
pub const GUILD_DELIVERY_SLACK_MS: u64 = 1_000;

/// Judges the bots' guild lines; `guild_of` gives each bot's guild (bots absent from it are
/// in none). Returns the violations (untagged) and the number of lines received.
pub fn judge(results: &[BotResult], guild_of: &BTreeMap<usize, u64>) -> (Vec<String>, usize) {
    let mut violations = Vec::new();
    let slack = Duration::from_millis(GUILD_DELIVERY_SLACK_MS);
    // Each line: its sender's index and guild.
    let mut said: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for (index, report, _, _) in results {
        let guild = guild_of.get(index).copied().unwrap_or(0);
        for (text, _) in &report.guild_sent {
            said.insert(text, (*index, guild));
        }
    }
    let mut received = 0;
    for (index, report, result, _) in results {
        received += report.guild_received.len();
        let mut count: BTreeMap<&str, u32> = BTreeMap::new();
        for text in &report.guild_received {
            *count.entry(text).or_default() += 1;
        }
        let guild = guild_of.get(index).copied().unwrap_or(0);
        for (text, n) in &count {
            match said.get(text) {
                None => violations.push(format!(
                    "bot{index} received a guild line {text:?} that no bot said"
                )),
                Some((_, g)) if *g != guild => violations.push(format!(
                    "bot{index} (guild {guild}) received guild {g}'s line {text:?}"
                )),
                Some(_) if *n > 1 => violations.push(format!(
                    "bot{index} received the guild line {text:?} {n} times"
                )),
                Some(_) => {}
            }
        }
        if result.is_err() || guild == 0 {
            continue;
        }
        for (sender, s_report, s_result, _) in results {
            if sender == index || guild_of.get(sender) != Some(&guild) || s_result.is_err() {
                continue;
            }
            for (text, said) in &s_report.guild_sent {
                let at = (s_report.moving_spans.iter())
                    .find(|(from, until)| *from <= *said + slack && said <= until)
                    .map_or(said, |(_, until)| until);
                let in_world = report
                    .world_spans
                    .iter()
                    .any(|(from, until)| *from <= *at && *at + slack <= *until);
                if in_world
                    && !count.contains_key(text.as_str())
                    && s_report.guild_echoed.contains(text)
                {
                    violations.push(format!(
                        "bot{sender}'s guild line {text:?} was echoed as said but never reached bot{index}, in world all the while"
                    ));
                }
            }
        }
    }
    for (index, report, result, _) in results {
        let unechoed = report
            .guild_sent
            .iter()
            .filter(|(t, _)| !report.guild_echoed.contains(t))
            .count();
        if result.is_ok() && unechoed > report.guild_undeliverable as usize {
            violations.push(format!(
                "bot{index}: {unechoed} of its guild lines were not echoed, and it was told of only {} undelivered",
                report.guild_undeliverable
            ));
        }
    }
    (violations, received)
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::check::bot_result as bot;

    fn guilds() -> BTreeMap<usize, u64> {
        [(0, 7), (1, 7), (2, 9)].into()
    }

    /// Bot 0 said "a" at `t0 + 1 s`, echoed; bot 1 was in world over `span`.
    fn run(t0: Instant, span: (u64, u64), got: &[&str]) -> Vec<String> {
        run_moving(t0, None, span, got)
    }

    /// As [`run`], bot 0 moving between worldservers over `moving`, if given.
    fn run_moving(
        t0: Instant,
        moving: Option<(u64, u64)>,
        span: (u64, u64),
        got: &[&str],
    ) -> Vec<String> {
        let ms = |n| t0 + Duration::from_millis(n);
        let results = vec![
            bot(0, true, |r| {
                r.guild_sent.push(("a".into(), ms(1_000)));
                r.guild_echoed.push("a".into());
                r.moving_spans.extend(moving.map(|(a, b)| (ms(a), ms(b))));
            }),
            bot(1, true, |r| {
                r.world_spans.push((ms(span.0), ms(span.1)));
                r.guild_received.extend(got.iter().map(|t| (*t).to_owned()));
            }),
            bot(2, true, |_| {}),
        ];
        judge(&results, &guilds()).0
    }

    #[test]
    fn a_member_in_world_gets_each_line_once() {
        let t0 = Instant::now();
        assert_eq!(run(t0, (0, 5_000), &["a"]), Vec::<String>::new());
        let lost = run(t0, (0, 5_000), &[]);
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert!(lost[0].contains("never reached bot1"), "{lost:?}");
        let twice = run(t0, (0, 5_000), &["a", "a"]);
        assert!(twice[0].contains("2 times"), "{twice:?}");
    }

    #[test]
    fn a_member_not_in_world_all_the_while_is_not_owed_the_line() {
        let t0 = Instant::now();
        assert_eq!(run(t0, (1_500, 5_000), &[]), Vec::<String>::new());
        assert_eq!(run(t0, (0, 1_500), &[]), Vec::<String>::new());
    }

    /// A line said on the way between worldservers is handed on at the arrival: it is owed to
    /// the members in world from then on.
    #[test]
    fn a_line_said_while_moving_counts_from_the_arrival() {
        let t0 = Instant::now();
        let moving = Some((500, 6_000));
        assert_eq!(
            run_moving(t0, moving, (0, 5_000), &[]),
            Vec::<String>::new()
        );
        assert_eq!(run_moving(t0, moving, (0, 10_000), &[]).len(), 1);
        assert_eq!(
            run_moving(t0, moving, (0, 10_000), &["a"]),
            Vec::<String>::new()
        );
        // Said just before the client saw the move begin: it may have been held too.
        let just_before = Some((1_800, 6_000));
        assert_eq!(
            run_moving(t0, just_before, (0, 5_000), &[]),
            Vec::<String>::new()
        );
        let long_before = Some((2_500, 6_000));
        assert_eq!(run_moving(t0, long_before, (0, 5_000), &[]).len(), 1);
    }

    #[test]
    fn lines_outside_the_guild_or_never_said_are_flagged() {
        let t0 = Instant::now();
        let results = vec![
            bot(0, true, |r| {
                r.guild_sent.push(("a".into(), t0));
                r.guild_echoed.push("a".into());
            }),
            bot(2, true, |r| {
                r.guild_received.extend(["a".into(), "zz".into()])
            }),
        ];
        let (v, received) = judge(&results, &guilds());
        assert_eq!(received, 2);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().any(|m| m.contains("guild 7's line")), "{v:?}");
        assert!(v.iter().any(|m| m.contains("no bot said")), "{v:?}");
    }

    #[test]
    fn an_unechoed_line_needs_its_undelivered_notice() {
        let t0 = Instant::now();
        let mut results = vec![bot(0, true, |r| r.guild_sent.push(("a".into(), t0)))];
        assert_eq!(judge(&results, &guilds()).0.len(), 1);
        results[0].1.guild_undeliverable = 1;
        assert_eq!(judge(&results, &guilds()).0, Vec::<String>::new());
    }
}
