//! Reliability: the tamper-evident history, pinned plugin files, one run at a time per
//! environment, and interrupted runs.

mod common;

use common::Project;

#[test]
fn history_verify_finds_an_edited_line() {
    let p = Project::new();
    p.run(&["--env", "dev", "--show"]).expect(0);
    p.run(&["--env", "dev", "--app", "users", "--migration", "0001"])
        .expect(0);
    p.run(&["--env", "prod"]).expect(3);
    let ok = p.run(&["history", "verify"]);
    ok.expect(0);
    assert!(
        ok.stdout.contains("history intact: 3 run(s)"),
        "{}",
        ok.all()
    );

    // Rewrite the refusal as a success: the line itself parses, but the chain breaks.
    let file = p.path().join(".platform-migrate/history.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let forged = lines[1].replace("\"outcome\":\"succeeded\"", "\"outcome\":\"failed\"");
    assert_ne!(forged, lines[1], "line 2 is the succeeded run");
    std::fs::write(&file, [lines[0], &forged, lines[2]].join("\n") + "\n").unwrap();
    let bad = p.run(&["history", "verify"]);
    bad.expect(1);
    let e = bad.error_line();
    assert!(
        e.contains("history line 3 does not follow line 2"),
        "{}",
        bad.all()
    );
    // `history` still prints every run.
    let shown = p.run(&["history"]);
    shown.expect(0);
    assert_eq!(shown.stdout.lines().count(), 3, "{}", shown.all());
}
