//! The WIT bindings of every supported version to and from the host's own model
//! (`crate::plugin_api::types`), one module per version. The worlds' records are the same in
//! every version so far, so one macro writes each version's conversions; what a version adds
//! (0.2.0: the runner's ledger) is converted beside it. The rest of the host never sees WIT
//! types.

/// `RunContext` and `MigrationRef` exist once per world's bindings.
macro_rules! shared_types {
    ($module:ident, $version:ident) => {
        impl From<&api::RunContext> for $module::platform::migrate::types::RunContext {
            fn from(c: &api::RunContext) -> Self {
                Self {
                    env: c.env.clone(),
                    run_id: c.run_id.clone(),
                    verbose: c.verbose,
                }
            }
        }
        impl From<$module::platform::migrate::types::MigrationRef> for api::MigrationRef {
            fn from(m: $module::platform::migrate::types::MigrationRef) -> Self {
                api::MigrationRef {
                    app: m.app,
                    name: m.name,
                }
            }
        }
        impl From<&api::MigrationRef> for $module::platform::migrate::types::MigrationRef {
            fn from(m: &api::MigrationRef) -> Self {
                Self {
                    app: m.app.clone(),
                    name: m.name.clone(),
                }
            }
        }
        impl From<$module::platform::migrate::types::PluginInfo> for api::Info {
            fn from(i: $module::platform::migrate::types::PluginInfo) -> api::Info {
                use crate::policy::Need;
                use $module::platform::migrate::types::Capability as C;
                api::Info {
                    name: i.name,
                    version: i.version,
                    description: i.description,
                    needs: i
                        .capabilities
                        .into_iter()
                        .map(|c| match c {
                            C::RunProgram(s) => Need::RunProgram(s),
                            C::Directory(s) => Need::Directory(s),
                            C::EnvVar(s) => Need::EnvVar(s),
                            C::Secret(s) => Need::Secret(s),
                            C::OutboundHttp(s) => Need::OutboundHttp(s),
                        })
                        .collect(),
                    settings: info_settings!($version, $module, i),
                }
            }
        }
    };
}

/// A plugin's settings schema: 0.2.0 added it to `plugin-info`.
macro_rules! info_settings {
    (v0_1, $module:ident, $i:ident) => {
        None
    };
    ($version:ident, $module:ident, $i:ident) => {
        $i.settings.map(|list| {
            use $module::platform::migrate::types::SettingType as K;
            list.into_iter()
                .map(|s| api::SettingSpec {
                    name: s.name,
                    kind: match s.kind {
                        K::Text => api::SettingKind::Text,
                        K::Integer => api::SettingKind::Integer,
                        K::Number => api::SettingKind::Number,
                        K::Boolean => api::SettingKind::Boolean,
                        K::TextList => api::SettingKind::TextList,
                        K::TextTable => api::SettingKind::TextTable,
                        K::Any => api::SettingKind::Any,
                    },
                    required: s.required,
                    default: s.default,
                    secret: s.secret,
                    description: s.description,
                })
                .collect()
        })
    };
}

/// The conversions of one version's bindings; `$runner` and `$backup` are the match arms of
/// runner and backup errors the version adds. Plan steps differ between versions and are
/// converted below.
macro_rules! conversions {
    ($version:ident {
        runner: [$($runner:tt)*],
        backup: [$($backup:tt)*]
    }) => {
        pub(super) mod $version {
            use super::super::bindings::$version::{backup, notifier, runner};
            use crate::plugin_api as api;

            use backup::platform::migrate::backup_types as bt;
            use notifier::platform::migrate::notifier_types as nt;
            use runner::platform::migrate::runner_types as rt;
        shared_types!(runner, $version);
        shared_types!(backup, $version);
        shared_types!(notifier, $version);

        impl From<rt::ConnectionInfo> for api::ConnectionInfo {
            fn from(c: rt::ConnectionInfo) -> Self {
                api::ConnectionInfo {
                    vendor: api::Vendor::named(&c.vendor),
                    database: c.database,
                    framework: c.framework,
                }
            }
        }

        impl From<&api::Target> for rt::Target {
            fn from(t: &api::Target) -> Self {
                match t {
                    api::Target::All => rt::Target::All,
                    api::Target::App(a) => rt::Target::App(a.clone()),
                    api::Target::Migration(m) => rt::Target::Migration(m.into()),
                    api::Target::Rollback(a) => rt::Target::Rollback(a.clone()),
                }
            }
        }

        impl From<&api::ResolvedTarget> for rt::ResolvedTarget {
            fn from(t: &api::ResolvedTarget) -> Self {
                match t {
                    api::ResolvedTarget::All => rt::ResolvedTarget::All,
                    api::ResolvedTarget::App(a) => rt::ResolvedTarget::App(a.clone()),
                    api::ResolvedTarget::Position(p) => rt::ResolvedTarget::Position(rt::AppPosition {
                        app: p.app.clone(),
                        migration: p.migration.clone(),
                    }),
                }
            }
        }

        impl From<rt::ResolvedTarget> for api::ResolvedTarget {
            fn from(t: rt::ResolvedTarget) -> Self {
                match t {
                    rt::ResolvedTarget::All => api::ResolvedTarget::All,
                    rt::ResolvedTarget::App(a) => api::ResolvedTarget::App(a),
                    rt::ResolvedTarget::Position(p) => api::ResolvedTarget::Position(api::AppPosition {
                        app: p.app,
                        migration: p.migration,
                    }),
                }
            }
        }

        impl From<rt::Plan> for api::Plan {
            fn from(p: rt::Plan) -> Self {
                api::Plan {
                    resolved: p.resolved.into(),
                    steps: p.steps.into_iter().map(Into::into).collect(),
                }
            }
        }

        impl From<rt::FixtureLoaded> for api::FixtureLoaded {
            fn from(f: rt::FixtureLoaded) -> Self {
                api::FixtureLoaded {
                    fixture: f.fixture,
                    objects: f.objects,
                }
            }
        }

        impl From<rt::ModelChange> for api::ModelChange {
            fn from(c: rt::ModelChange) -> Self {
                api::ModelChange {
                    app: c.app,
                    changes: c.changes,
                }
            }
        }

        impl From<rt::RunnerError> for api::RunnerError {
            fn from(e: rt::RunnerError) -> Self {
                use api::RunnerError as A;
                use rt::RunnerError as R;
                match e {
                    R::Connection(m) => A::Connection(m),
                    R::UnknownApp(m) => A::UnknownApp(m),
                    R::UnknownMigration(m) => A::UnknownMigration(m.into()),
                    R::Ambiguous(m) => A::Ambiguous(m),
                    R::NothingToRollBack(m) => A::NothingToRollBack(m),
                    R::CommandFailed(f) => A::CommandFailed(api::CommandFailure {
                        command: f.command,
                        exit_code: f.exit_code,
                        output_tail: f.output_tail,
                    }),
                    R::FixtureFailed(f) => A::FixtureFailed(api::FixtureFailure {
                        fixture: f.fixture,
                        message: f.message,
                    }),
                    R::Unsupported(m) => A::Unsupported(m),
                    R::Locked(m) => A::Locked(m),
                    R::Denied(m) => A::Denied(m),
                    R::Misconfigured(m) => A::Misconfigured(m),
                    $($runner)*
                    R::Other(m) => A::Other(m),
                }
            }
        }

        impl From<bt::BackupInfo> for api::BackupInfo {
            fn from(b: bt::BackupInfo) -> Self {
                api::BackupInfo {
                    id: b.id,
                    file: b.file,
                    size: b.size,
                    created: b.created,
                }
            }
        }

        impl From<&api::BackupInfo> for bt::BackupInfo {
            fn from(b: &api::BackupInfo) -> Self {
                bt::BackupInfo {
                    id: b.id.clone(),
                    file: b.file.clone(),
                    size: b.size,
                    created: b.created.clone(),
                }
            }
        }

        impl From<bt::BackupError> for api::BackupError {
            fn from(e: bt::BackupError) -> Self {
                use api::BackupError as A;
                use bt::BackupError as B;
                match e {
                    B::SourceMissing(m) => A::SourceMissing(m),
                    B::AlreadyExists(m) => A::AlreadyExists(m),
                    B::Invalid(m) => A::Invalid(m),
                    B::CommandFailed(m) => A::CommandFailed(m),
                    B::Denied(m) => A::Denied(m),
                    B::Misconfigured(m) => A::Misconfigured(m),
                    $($backup)*
                    B::Other(m) => A::Other(m),
                }
            }
        }

        impl From<&api::RunEvent> for nt::RunEvent {
            fn from(e: &api::RunEvent) -> Self {
                nt::RunEvent {
                    env: e.env.clone(),
                    run_id: e.run_id.clone(),
                    action: e.action.clone(),
                    outcome: match e.outcome {
                        api::EventOutcome::Succeeded => nt::Outcome::Succeeded,
                        api::EventOutcome::Failed => nt::Outcome::Failed,
                        api::EventOutcome::Refused => nt::Outcome::Refused,
                        api::EventOutcome::Interrupted => nt::Outcome::Interrupted,
                    },
                    applied: e
                        .applied
                        .iter()
                        .map(|a| nt::AppliedMigration {
                            id: (&a.id).into(),
                            backwards: a.backwards,
                        })
                        .collect(),
                    backup_id: e.backup_id.clone(),
                    backup_size: e.backup_size,
                    duration_ms: e.duration_ms,
                    host: e.host.clone(),
                    error_summary: e.error_summary.clone(),
                    findings: e.findings.clone(),
                }
            }
        }

        impl From<nt::NotifyError> for api::NotifyError {
            fn from(e: nt::NotifyError) -> Self {
                use api::NotifyError as A;
                use nt::NotifyError as N;
                match e {
                    N::Denied(m) => A::Denied(m),
                    N::Rejected(m) => A::Rejected(m),
                    N::Unavailable(m) => A::Unavailable(m),
                    N::Misconfigured(m) => A::Misconfigured(m),
                }
            }
        }

        }
    };
}

conversions!(v0_1 {
    runner: [],
    backup: []
});
conversions!(v0_2 {
    runner: [R::LedgerConflict(m) => A::LedgerConflict(m),],
    backup: [B::Unsupported(m) => A::Unsupported(m),]
});
conversions!(v0_3 {
    runner: [R::LedgerConflict(m) => A::LedgerConflict(m),],
    backup: [B::Unsupported(m) => A::Unsupported(m),]
});

/// Migrations: 0.2.0 adds each one's file and atomicity and its operations' lines.
mod migrations {
    use super::super::bindings::{v0_1, v0_2, v0_3};
    use crate::plugin_api as api;
    use v0_1::runner::platform::migrate::runner_types as r1;
    use v0_2::runner::platform::migrate::runner_types as r2;
    use v0_3::runner::platform::migrate::runner_types as r3;

    impl From<r1::Migration> for api::Migration {
        fn from(m: r1::Migration) -> Self {
            api::Migration {
                id: m.id.into(),
                applied: m.applied,
                dependencies: m.dependencies.into_iter().map(Into::into).collect(),
                operations: m
                    .operations
                    .into_iter()
                    .map(|o| api::Operation {
                        description: o.description,
                        reversible: o.reversible,
                        line: None,
                    })
                    .collect(),
                checksum: m.checksum,
                file: None,
                atomic: None,
                phase: None,
            }
        }
    }

    macro_rules! since_v0_2 {
        ($r:ident) => {
            impl From<$r::Migration> for api::Migration {
                fn from(m: $r::Migration) -> Self {
                    api::Migration {
                        id: m.id.into(),
                        applied: m.applied,
                        dependencies: m.dependencies.into_iter().map(Into::into).collect(),
                        operations: m
                            .operations
                            .into_iter()
                            .map(|o| api::Operation {
                                description: o.description,
                                reversible: o.reversible,
                                line: o.line,
                            })
                            .collect(),
                        checksum: m.checksum,
                        file: m.file,
                        atomic: Some(m.atomic),
                        phase: m.phase.map(|p| match p {
                            $r::DeployPhase::Pre => api::Phase::Pre,
                            $r::DeployPhase::Post => api::Phase::Post,
                            $r::DeployPhase::Any => api::Phase::Any,
                        }),
                    }
                }
            }
        };
    }
    since_v0_2!(r2);
    since_v0_2!(r3);
}

/// Plan steps: 0.2.0 says whether each migration is atomic; 0.1.0 does not.
mod plan_steps {
    use super::super::bindings::{v0_1, v0_2, v0_3};
    use crate::plugin_api as api;
    use v0_1::runner::platform::migrate::runner_types as r1;
    use v0_2::runner::platform::migrate::runner_types as r2;
    use v0_3::runner::platform::migrate::runner_types as r3;

    impl From<&api::PlanStep> for r1::PlanStep {
        fn from(s: &api::PlanStep) -> Self {
            r1::PlanStep {
                id: (&s.id).into(),
                backwards: s.backwards,
                operations: s.operations.clone(),
                irreversible: s.irreversible,
            }
        }
    }

    impl From<r1::PlanStep> for api::PlanStep {
        fn from(s: r1::PlanStep) -> Self {
            api::PlanStep {
                id: s.id.into(),
                backwards: s.backwards,
                operations: s.operations,
                irreversible: s.irreversible,
                atomic: None,
            }
        }
    }

    macro_rules! since_v0_2 {
        ($r:ident) => {
            impl From<&api::PlanStep> for $r::PlanStep {
                fn from(s: &api::PlanStep) -> Self {
                    $r::PlanStep {
                        id: (&s.id).into(),
                        backwards: s.backwards,
                        operations: s.operations.clone(),
                        irreversible: s.irreversible,
                        atomic: s.atomic.unwrap_or(true),
                    }
                }
            }

            impl From<$r::PlanStep> for api::PlanStep {
                fn from(s: $r::PlanStep) -> Self {
                    api::PlanStep {
                        id: s.id.into(),
                        backwards: s.backwards,
                        operations: s.operations,
                        irreversible: s.irreversible,
                        atomic: Some(s.atomic),
                    }
                }
            }
        };
    }
    since_v0_2!(r2);
    since_v0_2!(r3);
}

/// The runner's ledger, new in 0.2.0.
macro_rules! ledger {
    ($module:ident, $version:ident) => {
        mod $module {
            use super::super::bindings::$version::runner::platform::migrate::runner_types as rt;
            use crate::plugin_api as api;

            impl From<&api::LedgerRun> for rt::LedgerRun {
                fn from(r: &api::LedgerRun) -> Self {
                    rt::LedgerRun {
                        seq: r.seq,
                        run_id: r.run_id.clone(),
                        line: r.line.clone(),
                        sha256: r.sha256.clone(),
                    }
                }
            }

            impl From<rt::LedgerRun> for api::LedgerRun {
                fn from(r: rt::LedgerRun) -> Self {
                    api::LedgerRun {
                        seq: r.seq,
                        run_id: r.run_id,
                        line: r.line,
                        sha256: r.sha256,
                    }
                }
            }

            impl From<&api::LedgerChecksum> for rt::LedgerChecksum {
                fn from(c: &api::LedgerChecksum) -> Self {
                    rt::LedgerChecksum {
                        id: (&c.id).into(),
                        sha256: c.sha256.clone(),
                        run_id: c.run_id.clone(),
                    }
                }
            }

            impl From<rt::LedgerChecksum> for api::LedgerChecksum {
                fn from(c: rt::LedgerChecksum) -> Self {
                    api::LedgerChecksum {
                        id: c.id.into(),
                        sha256: c.sha256,
                        run_id: c.run_id,
                    }
                }
            }

            impl From<api::LedgerQuery> for rt::LedgerQuery {
                fn from(q: api::LedgerQuery) -> Self {
                    rt::LedgerQuery {
                        after_seq: q.after_seq,
                        limit: q.limit,
                        checksums: q.checksums,
                    }
                }
            }

            impl From<rt::LedgerContents> for api::LedgerContents {
                fn from(c: rt::LedgerContents) -> Self {
                    api::LedgerContents {
                        exists: c.exists,
                        can_create: c.can_create,
                        runs: c.runs.into_iter().map(Into::into).collect(),
                        last_seq: c.last_seq,
                        checksums: c.checksums.into_iter().map(Into::into).collect(),
                    }
                }
            }

            impl From<&api::LedgerEntry> for rt::LedgerEntry {
                fn from(e: &api::LedgerEntry) -> Self {
                    rt::LedgerEntry {
                        run: (&e.run).into(),
                        record_checksums: e.record_checksums.iter().map(Into::into).collect(),
                        forget_checksums: e.forget_checksums.iter().map(Into::into).collect(),
                    }
                }
            }
        }
    };
}
ledger!(ledger_v0_2, v0_2);
ledger!(ledger_v0_3, v0_3);

/// The schema snapshot and services, new in 0.3.0.
mod schema_v0_3 {
    use super::super::bindings::v0_3::runner::platform::migrate::runner_types as rt;
    use crate::plugin_api as api;

    impl From<rt::SchemaObject> for api::SchemaObject {
        fn from(o: rt::SchemaObject) -> Self {
            api::SchemaObject {
                kind: match o.kind {
                    rt::SchemaKind::Table => api::SchemaKind::Table,
                    rt::SchemaKind::Column => api::SchemaKind::Column,
                    rt::SchemaKind::Index => api::SchemaKind::Index,
                    rt::SchemaKind::Constraint => api::SchemaKind::Constraint,
                    rt::SchemaKind::Sequence => api::SchemaKind::Sequence,
                    rt::SchemaKind::View => api::SchemaKind::View,
                },
                relation: o.relation,
                name: o.name,
                definition: o.definition,
            }
        }
    }

    impl From<rt::Service> for api::Service {
        fn from(s: rt::Service) -> Self {
            api::Service {
                setting: s.setting,
                host: s.host,
                port: s.port,
            }
        }
    }
}
