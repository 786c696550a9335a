//! The part of a failed program's output a person needs: the last lines, and, when a Python
//! traceback's own tail is all library frames, the project's first and last frames too (the
//! code that explains the failure: a signal handler, a settings loader), which a plain tail
//! cuts; and any frame of Django's migration recorder, which says the failure came while
//! writing `django_migrations` (after the migration's schema change).

/// The last `n` non-empty lines of `text`; when it holds a Python traceback whose project
/// frames (files outside `site-packages`, the standard library and `<frozen ...>`) fall
/// before those lines, the first and last of them come first, each with its source line.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(n);
    let frames: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| project_frame(l))
        .map(|(i, _)| i)
        .collect();
    let recorder = lines.iter().position(|l| recorder_frame(l));
    let mut kept: Vec<usize> = Vec::new();
    for i in [frames.first(), recorder.as_ref(), frames.last()]
        .into_iter()
        .flatten()
    {
        if *i < start && !kept.contains(i) {
            kept.push(*i);
        }
    }
    kept.sort_unstable();
    if kept.is_empty() {
        return lines[start..].join("\n");
    }
    let mut out = vec!["The frames of the traceback that explain it:"];
    for i in kept {
        out.push(lines[i]);
        // The source line Python prints under the frame, when it is not the next frame.
        if let Some(next) = lines
            .get(i + 1)
            .filter(|l| !l.trim_start().starts_with("File \""))
        {
            if i + 1 < start {
                out.push(next);
            }
        }
    }
    out.push("...");
    out.extend(&lines[start..]);
    out.join("\n")
}

/// A frame in Django's `MigrationRecorder` (`record_applied`, `record_unapplied`).
fn recorder_frame(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("File \"") && l.contains("/django/db/migrations/recorder.py\"")
}

/// `  File "/srv/app/core/signals.py", line 12, in handler` for a file of the project.
fn project_frame(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("File \"") else {
        return false;
    };
    let path = rest.split('"').next().unwrap_or("");
    !(path.starts_with('<')
        || path.contains("/site-packages/")
        || path.contains("/dist-packages/")
        || path.contains("/lib/python")
        || path.contains("/lib64/python"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/srv/app/manage.py", line 22, in <module>
    main()
  File "/venv/lib/python3.11/site-packages/django/core/management/__init__.py", line 442, in execute_from_command_line
    utility.execute()
  File "/srv/app/core/signals.py", line 12, in on_delete
    cache.delete(key)
  File "/venv/lib/python3.11/site-packages/redis/connection.py", line 1287, in connect
    self.retry.call_with_retry(
  File "/venv/lib/python3.11/site-packages/redis/retry.py", line 162, in call_with_retry
    raise error
redis.exceptions.ConnectionError: Error 13 connecting to 127.0.0.1:6379. Permission denied."#;

    #[test]
    fn project_frames_cut_by_the_tail_come_back_first() {
        let t = tail(TRACE, 4);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "The frames of the traceback that explain it:");
        assert!(lines[1].contains("/srv/app/manage.py"), "{t}");
        assert_eq!(lines[2].trim(), "main()");
        assert!(lines[3].contains("/srv/app/core/signals.py"), "{t}");
        assert_eq!(lines[4].trim(), "cache.delete(key)");
        assert_eq!(lines[5], "...");
        assert!(t.ends_with("Permission denied."), "{t}");
        assert_eq!(lines.len(), 6 + 4);
    }

    #[test]
    fn a_frame_of_the_migration_recorder_is_kept() {
        let trace = r#"Traceback (most recent call last):
  File "/v/lib/python3.11/site-packages/django/db/migrations/executor.py", line 270, in unapply_migration
    self.recorder.record_unapplied(migration.app_label, migration.name)
  File "/v/lib/python3.11/site-packages/django/db/migrations/recorder.py", line 107, in record_unapplied
    self.migration_qs.filter(app=app, name=name).delete()
  File "/v/lib/python3.11/site-packages/django/db/models/query.py", line 1, in delete
    x()
  File "/srv/app/core/signals.py", line 12, in on_delete
    cache.delete(key)
RuntimeError: cache unavailable"#;
        let t = tail(trace, 3);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].contains("recorder.py"), "{t}");
        assert!(lines[1].ends_with("in record_unapplied"), "{t}");
        assert!(t.ends_with("RuntimeError: cache unavailable"), "{t}");
    }

    #[test]
    fn a_tail_that_holds_the_project_frames_is_left_as_it_is() {
        assert_eq!(tail(TRACE, 50), TRACE);
        let plain = "one\n\ntwo\nthree";
        assert_eq!(tail(plain, 2), "two\nthree");
    }

    #[test]
    fn library_and_frozen_frames_are_not_the_project() {
        assert!(!project_frame(r#"  File "<frozen runpy>", line 1, in x"#));
        assert!(!project_frame(
            r#"  File "/usr/lib/python3.11/runpy.py", line 1, in x"#
        ));
        assert!(!project_frame(r#"  File "/v/site-packages/a.py", line 1"#));
        assert!(project_frame(
            r#"  File "/srv/app/core/signals.py", line 1"#
        ));
        assert!(!project_frame(
            "redis.exceptions.ConnectionError: File \"x\""
        ));
    }
}
