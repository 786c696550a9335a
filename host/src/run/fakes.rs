//! Fake plugins for the steps' unit tests: a runner over an in-memory list of migrations, a
//! backup provider and a notifier that record what they were asked, all opened through a
//! fake [`Opener`]. They speak only `crate::plugin_api`, as the steps do.

use crate::config::PluginConfig;
use crate::plugin_api::*;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// What the fakes were asked, and what they should answer.
#[derive(Default)]
pub struct Script {
    /// The runner's migrations, in dependency order.
    pub migrations: Vec<Migration>,
    /// `apply` fails with this error when set.
    pub apply_fails: Option<RunnerError>,
    /// `create` fails with this error when set.
    pub backup_fails: Option<BackupError>,
    /// `create` reports this backup when set (the test writes its file).
    pub backup_made: Option<BackupInfo>,
    /// The runner's declared needs are refused by the opener with this message.
    pub deny_runner: Option<String>,
    /// The vendor `check-connection` reports (`sqlite` when empty).
    pub vendor: String,
    /// The ledger in the fake database (`None`: not created yet); every run and checksum.
    pub ledger: Option<LedgerContents>,
    /// `ledger-append` fails with a conflict when set.
    pub ledger_fails: bool,
    /// The database user may not create the ledger when set.
    pub ledger_no_create: bool,
    /// `ledger-read` answers every page from the first row, whatever it is asked (a runner
    /// whose pages never advance).
    pub ledger_stuck: bool,
    /// Calls made, in order (`"apply All"`, `"create"`, `"notify Succeeded"`, ...).
    pub calls: Vec<String>,
}

pub type Shared = Rc<RefCell<Script>>;

/// A migration `app.name`, not applied, with one reversible operation.
pub fn migration(app: &str, name: &str) -> Migration {
    Migration {
        id: MigrationRef {
            app: app.into(),
            name: name.into(),
        },
        applied: false,
        dependencies: vec![],
        operations: vec![Operation {
            description: format!("Create model {name}"),
            reversible: true,
            line: Some(8),
        }],
        checksum: Some(format!("sum-{app}-{name}")),
        file: Some(format!("{app}/migrations/{name}.py")),
        atomic: Some(true),
        phase: None,
    }
}

pub struct FakeOpener(pub Shared);

pub struct FakeRunner(pub Shared);
struct FakeBackup(Shared);
struct FakeNotifier(Shared);

fn info(name: &str) -> Info {
    Info {
        name: name.into(),
        version: "0.0.1".into(),
        description: "a fake".into(),
        needs: vec![],
        settings: None,
    }
}

impl Opener for FakeOpener {
    fn runner(
        &self,
        _: &Path,
        _: &PluginConfig,
        _: Vec<(String, String)>,
    ) -> Result<Opened<dyn RunnerPlugin>, OpenError> {
        if let Some(m) = self.0.borrow().deny_runner.clone() {
            return Err(OpenError::Denied(m));
        }
        Ok(Opened::new(
            Box::new(FakeRunner(self.0.clone())),
            info("fake-runner"),
        ))
    }
    fn backup(
        &self,
        _: &Path,
        _: &PluginConfig,
        _: &Path,
    ) -> Result<Opened<dyn BackupPlugin>, OpenError> {
        Ok(Opened::new(
            Box::new(FakeBackup(self.0.clone())),
            info("fake-backup"),
        ))
    }
    fn notifier(
        &self,
        _: &Path,
        _: &PluginConfig,
    ) -> Result<Opened<dyn NotifierPlugin>, OpenError> {
        Ok(Opened::new(
            Box::new(FakeNotifier(self.0.clone())),
            info("fake-notifier"),
        ))
    }
}

impl FakeRunner {
    fn call(&self, what: impl Into<String>) {
        self.0.borrow_mut().calls.push(what.into());
    }
}

impl RunnerPlugin for FakeRunner {
    fn denials(&self) -> Vec<String> {
        vec![]
    }
    fn check_connection(&mut self, _: &RunContext) -> Call<ConnectionInfo, RunnerError> {
        self.call("check-connection");
        Ok(Ok(ConnectionInfo {
            vendor: match self.0.borrow().vendor.as_str() {
                "" => Vendor::Sqlite,
                v => Vendor::named(v),
            },
            database: "memory".into(),
            framework: "Fake 1.0".into(),
        }))
    }
    fn list_migrations(&mut self, _: &RunContext) -> Call<Vec<Migration>, RunnerError> {
        Ok(Ok(self.0.borrow().migrations.clone()))
    }
    fn plan(&mut self, _: &RunContext, target: &Target) -> Call<Plan, RunnerError> {
        self.call(format!("plan {target:?}"));
        let steps = self
            .0
            .borrow()
            .migrations
            .iter()
            .filter(|m| !m.applied)
            .map(|m| PlanStep {
                id: m.id.clone(),
                backwards: false,
                operations: m.operations.iter().map(|o| o.description.clone()).collect(),
                irreversible: false,
                atomic: Some(true),
            })
            .collect();
        Ok(Ok(Plan {
            resolved: ResolvedTarget::All,
            steps,
        }))
    }
    fn sql(&mut self, _: &RunContext, steps: &[PlanStep]) -> Call<Vec<Vec<String>>, RunnerError> {
        Ok(Ok(steps.iter().map(|_| vec![]).collect()))
    }
    fn apply(
        &mut self,
        _: &RunContext,
        target: &ResolvedTarget,
        fake: bool,
    ) -> Call<(), RunnerError> {
        self.call(format!("apply {target:?} fake={fake}"));
        let mut s = self.0.borrow_mut();
        if let Some(e) = s.apply_fails.clone() {
            return Ok(Err(e));
        }
        for m in &mut s.migrations {
            m.applied = true;
        }
        Ok(Ok(()))
    }
    fn make_migrations(&mut self, _: &RunContext, _: &str) -> Call<Vec<MigrationRef>, RunnerError> {
        Ok(Ok(vec![]))
    }
    fn reset_database(&mut self, _: &RunContext) -> Call<(), RunnerError> {
        Ok(Ok(()))
    }
    fn load_fixtures(
        &mut self,
        _: &RunContext,
        _: &[String],
    ) -> Call<Vec<FixtureLoaded>, RunnerError> {
        Ok(Ok(vec![]))
    }
    fn pending_model_changes(&mut self, _: &RunContext) -> Call<Vec<ModelChange>, RunnerError> {
        Ok(Ok(vec![]))
    }
    fn lock_database(&mut self, _: &RunContext, _: &str) -> Call<(), RunnerError> {
        Ok(Err(RunnerError::Unsupported(
            "no advisory locks here".into(),
        )))
    }
    fn ledger_read(
        &mut self,
        _: &RunContext,
        _: &str,
        q: LedgerQuery,
    ) -> Call<LedgerContents, RunnerError> {
        let s = self.0.borrow();
        let Some(l) = s.ledger.as_ref() else {
            return Ok(Ok(LedgerContents {
                can_create: !s.ledger_no_create,
                ..LedgerContents::default()
            }));
        };
        Ok(Ok(LedgerContents {
            exists: true,
            can_create: true,
            runs: l
                .runs
                .iter()
                .filter(|r| s.ledger_stuck || r.seq > q.after_seq)
                .take(q.limit as usize)
                .cloned()
                .collect(),
            last_seq: l.runs.last().map_or(0, |r| r.seq),
            checksums: if q.checksums {
                l.checksums.clone()
            } else {
                vec![]
            },
        }))
    }
    fn ledger_append(&mut self, _: &RunContext, _: &str, e: &LedgerEntry) -> Call<(), RunnerError> {
        self.call(format!("ledger-append {}", e.run.seq));
        let mut s = self.0.borrow_mut();
        if s.ledger_fails {
            return Ok(Err(RunnerError::LedgerConflict(
                "another run wrote first".into(),
            )));
        }
        let l = s.ledger.get_or_insert_with(LedgerContents::default);
        let last = l.runs.last().map_or(0, |r| r.seq);
        if e.run.seq != last + 1 {
            return Ok(Err(RunnerError::LedgerConflict(format!("last seq {last}"))));
        }
        l.runs.push(e.run.clone());
        l.checksums.retain(|c| {
            !e.forget_checksums.contains(&c.id) && !e.record_checksums.iter().any(|r| r.id == c.id)
        });
        l.checksums.extend(e.record_checksums.iter().cloned());
        Ok(Ok(()))
    }
}

impl BackupPlugin for FakeBackup {
    fn denials(&self) -> Vec<String> {
        vec![]
    }
    fn create(&mut self, ctx: &RunContext) -> Call<BackupInfo, BackupError> {
        self.0.borrow_mut().calls.push("create".into());
        if let Some(e) = self.0.borrow().backup_fails.clone() {
            return Ok(Err(e));
        }
        if let Some(info) = self.0.borrow().backup_made.clone() {
            return Ok(Ok(info));
        }
        Ok(Err(BackupError::Other(format!(
            "no file for {}",
            ctx.run_id
        ))))
    }
    fn verify(&mut self, _: &RunContext, _: &BackupInfo) -> Call<(), BackupError> {
        Ok(Ok(()))
    }
    fn delete(&mut self, _: &RunContext, _: &BackupInfo) -> Call<(), BackupError> {
        Ok(Ok(()))
    }
    fn restore(&mut self, _: &RunContext, _: &BackupInfo, _: &str) -> Call<(), BackupError> {
        Ok(Err(BackupError::Unsupported("fake".into())))
    }
    fn stream_to(&mut self, _: std::sync::Arc<crate::store::Store>, _: &str) {}
    fn written(&self, _: &Path) -> Option<Written> {
        None
    }
}

impl NotifierPlugin for FakeNotifier {
    fn name(&self) -> &str {
        "notifier"
    }
    fn denials(&self) -> Vec<String> {
        vec![]
    }
    fn notify(&mut self, event: &RunEvent) -> Call<(), NotifyError> {
        self.0.borrow_mut().calls.push(format!(
            "notify {:?} {}",
            event.outcome,
            event.applied.len()
        ));
        Ok(Ok(()))
    }
}
