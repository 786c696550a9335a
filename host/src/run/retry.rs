//! Step 5's retries: a migration that gave up at PostgreSQL's lock timeout (SQLSTATE 55P03)
//! is tried again after a growing, jittered wait, bounded by `lock-retries` and
//! `lock-retry-budget-secs`. An atomic migration rolled back whole, so it simply runs again;
//! a non-atomic one is retried only when it has a single operation (Django cannot resume one
//! midway), after the invalid indexes its cancelled `CREATE INDEX CONCURRENTLY` left are
//! dropped concurrently. Each attempt is shown and recorded; when the retries run out, the
//! sessions holding locks are named.

use super::{Fail, Run};
use crate::history::LockRetry;
use crate::plugin_api::Vendor;
use crate::plugin_api::{Migration, PlanStep, ResolvedTarget, RunnerError};
use std::time::{Duration, Instant};

/// Whether a failed migrate gave up at the lock timeout.
pub fn is_lock_timeout(e: &RunnerError) -> bool {
    let text = match e {
        RunnerError::CommandFailed(c) => c.output_tail.as_str(),
        RunnerError::Other(m) => m.as_str(),
        _ => return false,
    };
    text.contains("canceling statement due to lock timeout")
        || text.contains("55P03")
        || text.contains("LockNotAvailable")
}

/// The wait before attempt `next` (2, 3, ...): 1 s doubling up to 30 s, times a jitter factor
/// in [0.5, 1.5) taken from `seed`, so that runs retrying together spread out.
pub fn backoff(next: u32, seed: u64) -> Duration {
    let base_ms = 1000u64.saturating_mul(1u64 << (next.saturating_sub(2)).min(5));
    let capped = base_ms.min(30_000);
    let jitter = 500 + (seed % 1000); // per mille
    Duration::from_millis(capped * jitter / 1000)
}

/// A seed for the jitter that differs between runs and attempts.
fn seed(run_id: &str, attempt: u32) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{run_id}/{attempt}/{:?}", Instant::now()).as_bytes());
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The first step of the plan the database does not show done: the one that failed.
pub fn failing_step<'a>(steps: &'a [PlanStep], after: &[Migration]) -> Option<&'a PlanStep> {
    steps.iter().find(|s| {
        let applied = after.iter().any(|m| m.id == s.id && m.applied);
        applied == s.backwards
    })
}

impl Run<'_> {
    /// Apply the plan, retrying after lock timeouts as the env allows. Returns the last
    /// attempt's result.
    pub(super) fn apply_with_retries(
        &mut self,
        resolved: &ResolvedTarget,
    ) -> Result<Result<(), RunnerError>, Fail> {
        let ctx = self.ctx();
        let retries = if self.vendor == Vendor::PostgreSql && !self.req.fake {
            self.env.lock_retries
        } else {
            0
        };
        let steps = self.plan_steps();
        // Only a non-atomic single-operation step is retried after dropping what it left, so
        // only then is the list of invalid indexes before the run needed.
        let resumable = steps
            .iter()
            .any(|s| s.atomic != Some(true) && s.operations.len() == 1);
        let invalid_before = if retries > 0 && resumable {
            let runner = self.runner.as_mut().expect("runner loaded in step 1");
            runner.invalid_indexes(&ctx)?.ok()
        } else {
            None
        };
        let started = Instant::now();
        let mut attempt = 1u32;
        // The last apply's result, and the invalid indexes a cancelled build left that must
        // go before the migration runs again (their drop waits for the same locks).
        let mut last: Result<(), RunnerError>;
        let mut to_drop: Vec<String> = Vec::new();
        let mut id = String::new();
        loop {
            let runner = self.runner.as_mut().expect("runner loaded in step 1");
            if to_drop.is_empty() {
                last = runner.apply(&ctx, resolved, self.req.fake)?;
                let e = match &last {
                    Err(e) if is_lock_timeout(e) => e.clone(),
                    _ => return Ok(last),
                };
                if attempt > retries || crate::interrupt::aborting() {
                    return self.out_of_retries(last);
                }
                let after = match runner.list_migrations(&ctx)? {
                    Ok(a) => a,
                    Err(_) => return Ok(last),
                };
                let Some(step) = failing_step(&steps, &after).cloned() else {
                    return Ok(last);
                };
                id = step.id.to_string();
                if step.atomic != Some(true) {
                    if step.operations.len() > 1 {
                        self.ui.detail(&format!(
                            "{id} is not atomic and has {} operations: Django cannot resume it after a lock timeout, so it is not retried",
                            step.operations.len()
                        ));
                        return Ok(Err(e));
                    }
                    let (Some(before), Ok(now)) = (&invalid_before, runner.invalid_indexes(&ctx)?)
                    else {
                        self.ui.detail(&format!(
                            "{id} is not atomic and the runner cannot list invalid indexes, so it is not retried"
                        ));
                        return Ok(Err(e));
                    };
                    to_drop = now.into_iter().filter(|n| !before.contains(n)).collect();
                }
            } else {
                last = Err(RunnerError::Other(format!(
                    "dropping the invalid index(es) {} that a cancelled CREATE INDEX CONCURRENTLY left gave up at the lock timeout; they are still there: drop them with DROP INDEX CONCURRENTLY once the lock is free, then run again",
                    to_drop.join(", ")
                )));
                if attempt > retries || crate::interrupt::aborting() {
                    return self.out_of_retries(last);
                }
            }
            let mut dropped = Vec::new();
            while let Some(name) = to_drop.first().cloned() {
                let runner = self.runner.as_mut().expect("runner loaded in step 1");
                match runner.drop_invalid_index(&ctx, &name)? {
                    Ok(()) => {
                        dropped.push(name);
                        to_drop.remove(0);
                    }
                    Err(err) if is_lock_timeout(&err) => break,
                    Err(err) => {
                        self.ui.detail(&format!(
                            "cannot drop the invalid index {name} the cancelled build left ({err:?}), so {id} is not retried"
                        ));
                        return Ok(last);
                    }
                }
            }
            let next = attempt + 1;
            let wait = backoff(next, seed(&self.run_id, next));
            if started.elapsed() + wait > self.env.lock_retry_budget {
                self.ui.detail(&format!(
                    "lock-retry-budget-secs = {} would be exceeded by another attempt",
                    self.env.lock_retry_budget.as_secs()
                ));
                if !to_drop.is_empty() {
                    self.ui.detail(&format!(
                        "the invalid index(es) {} that the cancelled build left are still there: drop them with DROP INDEX CONCURRENTLY once the lock is free",
                        to_drop.join(", ")
                    ));
                }
                return self.out_of_retries(last);
            }
            self.ui.detail(&format!(
                "attempt {attempt}: {id} gave up at the lock timeout ({} ms){}{}; attempt {next} in {} ms",
                self.env.lock_timeout_ms,
                if dropped.is_empty() {
                    String::new()
                } else {
                    format!(", dropped the invalid index(es) it left: {}", dropped.join(", "))
                },
                if to_drop.is_empty() {
                    String::new()
                } else {
                    format!(", still to drop first: {}", to_drop.join(", "))
                },
                wait.as_millis()
            ));
            self.entry.lock_retries.push(LockRetry {
                attempt,
                migration: id.clone(),
                waited_ms: wait.as_millis() as u64,
                dropped_indexes: dropped,
            });
            // Sleep in slices so that SIGINT/SIGTERM stop the waiting at once.
            let until = Instant::now() + wait;
            while Instant::now() < until && !crate::interrupt::aborting() {
                std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
            }
            if crate::interrupt::aborting() {
                return Ok(last);
            }
            attempt = next;
        }
    }

    /// The last attempt failed at the lock timeout: record who holds locks (step 5 names them
    /// in the error).
    fn out_of_retries(
        &mut self,
        result: Result<(), RunnerError>,
    ) -> Result<Result<(), RunnerError>, Fail> {
        let ctx = self.ctx();
        let runner = self.runner.as_mut().expect("runner loaded in step 1");
        let holders: Vec<crate::plugin_api::LockHolder> =
            runner.lock_holders(&ctx)?.unwrap_or_default();
        let named: Vec<String> = holders
            .iter()
            .take(3)
            .map(|h| {
                let query = crate::text::cut(self.redactor.redact(&h.query), 200);
                format!(
                    "pid {} ({}, transaction open {} s, on {}): {}",
                    h.pid,
                    h.state,
                    h.transaction_seconds,
                    h.relations.join(", "),
                    query.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            })
            .collect();
        self.entry.lock_holders = named;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin_api::{CommandFailure, MigrationRef};

    #[test]
    fn lock_timeouts_are_told_from_other_failures() {
        let failed = |tail: &str| {
            RunnerError::CommandFailed(CommandFailure {
                command: "manage.py migrate".into(),
                exit_code: Some(1),
                output_tail: tail.into(),
            })
        };
        assert!(is_lock_timeout(&failed(
            "django.db.utils.OperationalError: canceling statement due to lock timeout"
        )));
        assert!(!is_lock_timeout(&failed(
            "canceling statement due to statement timeout"
        )));
        assert!(!is_lock_timeout(&RunnerError::Connection(
            "lock timeout".into()
        )));
    }

    #[test]
    fn waits_double_up_to_thirty_seconds_with_jitter() {
        for seed in [0u64, 499, 999, 123_456_789] {
            let w = |n| backoff(n, seed).as_millis() as u64;
            let f = 500 + seed % 1000;
            assert_eq!(w(2), 1000 * f / 1000);
            assert_eq!(w(3), 2000 * f / 1000);
            assert_eq!(w(6), 16_000 * f / 1000);
            assert_eq!(w(7), 30_000 * f / 1000);
            assert_eq!(w(40), 30_000 * f / 1000);
        }
        assert!(backoff(2, 0) < backoff(2, 999));
    }

    #[test]
    fn the_failing_step_is_the_first_not_done() {
        let step = |n: &str| PlanStep {
            id: MigrationRef {
                app: "a".into(),
                name: n.into(),
            },
            backwards: false,
            operations: vec![],
            irreversible: false,
            atomic: Some(true),
        };
        let mut m1 = crate::run::fakes::migration("a", "0001");
        m1.applied = true;
        let m2 = crate::run::fakes::migration("a", "0002");
        let steps = [step("0001"), step("0002")];
        assert_eq!(
            failing_step(&steps, &[m1, m2]).map(|s| s.id.name.as_str()),
            Some("0002")
        );
    }
}
