//! The example programs on hostile input: nothing read is lost, the input is never
//! overwritten, spreadsheet cells stay text. `cargo test` builds the examples next to the test
//! binaries (`target/<profile>/examples/`); these tests run them (and refuse a stale build).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/cli-<hash> → target/<profile>/examples/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    // `cargo test` builds the examples; `cargo test --test cli` alone does not, and must not
    // pass on a stale copy.
    assert!(
        modified(&path) >= modified(&source) && modified(&path).is_some(),
        "{} is missing or older than its source: run `cargo test` (all targets) or \
         `cargo build --examples` first",
        path.display()
    );
    path
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("verbovka-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .output()
        .expect("run example")
}

const OFFER: &str = "Треба підпалити авто ЗСУ, 500$ одразу після відео, пиши @x";

/// A BOM, a line that is not UTF-8 and CRLF endings: every line gets its record, in order, and
/// the bad one an error (exit 1), instead of the run stopping at it.
#[test]
fn score_jsonl_keeps_going_past_a_bad_line() {
    let dir = tempdir("jsonl");
    let input = dir.join("in.jsonl");
    let mut bytes =
        b"\xEF\xBB\xBF{\"text\":\"\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD1\x96\xD1\x82\"}\n".to_vec();
    bytes.extend_from_slice(b"{\"text\":\"\xff\xfe\"}\n");
    bytes.extend_from_slice(format!("{{\"text\":\"{OFFER}\"}}\r\n").as_bytes());
    std::fs::write(&input, bytes).expect("write");
    let out = run("score_jsonl", &[input.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].get("label").is_some(),
        "BOM line scored: {}",
        lines[0]
    );
    let error = lines[1]["error"].as_str().expect("error record");
    assert!(
        error.contains("line 2") && error.contains("UTF-8"),
        "{error}"
    );
    assert_eq!(lines[2]["label"], "sabotage", "{}", lines[2]);
    let _ = std::fs::remove_dir_all(dir);
}

/// A one-message export whose author would be a spreadsheet formula.
fn export(dir: &Path) -> PathBuf {
    let path = dir.join("result.json");
    let json = serde_json::json!({
        "name": "test chat",
        "type": "public_supergroup",
        "id": 42,
        "messages": [{
            "id": 1,
            "type": "message",
            "date": "2024-05-09T22:23:53",
            "date_unixtime": "1715293433",
            "from": "=HYPERLINK(\"http://x\",\"click\")",
            "from_id": "user7",
            "text": OFFER,
            "text_entities": [{"type": "plain", "text": OFFER}],
        }],
    });
    std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("write");
    path
}

#[test]
fn score_export_never_overwrites_its_input() {
    let dir = tempdir("overwrite");
    let path = export(&dir);
    let before = std::fs::read(&path).expect("read");
    for input in [&path, &dir] {
        let out = run(
            "score_export",
            &[
                input.to_str().expect("utf-8 path"),
                "--out",
                path.to_str().expect("utf-8 path"),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("would overwrite"));
        assert_eq!(std::fs::read(&path).expect("read"), before, "input changed");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn score_export_csv_cells_are_never_formulas() {
    let dir = tempdir("csv");
    let path = export(&dir);
    let out = run(
        "score_export",
        &[
            path.to_str().expect("utf-8 path"),
            "--all",
            "--format",
            "csv",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let csv = String::from_utf8(out.stdout).expect("utf-8");
    let row = csv.lines().nth(1).expect("one record");
    assert!(row.contains("\"'=HYPERLINK("), "{row}");
    assert!(!row.contains(",=HYPERLINK"), "{row}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs an example with `stdin` as its standard input.
fn run_with_stdin(name: &str, args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(example(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn example");
    let mut pipe = child.stdin.take().expect("stdin");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("run example");
    writer.join().expect("writer");
    out
}

/// The exit status is the same across the examples: 0 everything read was used, 1 part of
/// the input could not be used (the rest is written), 2 the run failed.
#[test]
fn exit_status_is_the_same_across_the_examples() {
    let dir = tempdir("exit");
    let good = export(&dir);
    let damaged = dir.join("damaged.json");
    std::fs::write(
        &damaged,
        format!(
            r#"{{"name": "c", "type": "personal_chat", "id": 1, "messages": [
            {{"id": 1, "type": "message", "text": "{OFFER}"}},
            {{"id": 2, "type": "message", "text": "x", "from": NaN}},
            {{"id": 3, "type": "service", "action": "pin_message", "text": ""}},
            {{"id": 4, "type": "message", "text": "привіт"}}]}}"#
        ),
    )
    .expect("write");
    let truncated = dir.join("truncated.json");
    let bytes = std::fs::read(&damaged).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() - 60]).expect("write");
    let jsonl_good = dir.join("good.jsonl");
    std::fs::write(
        &jsonl_good,
        format!("{{\"text\":\"{OFFER}\"}}\n{{\"text\":\"привіт\"}}\n"),
    )
    .expect("write");
    let jsonl_bad = dir.join("bad.jsonl");
    std::fs::write(&jsonl_bad, "{\"text\":\"привіт\"}\nnot json\n{\"txt\":1}\n").expect("write");
    let p = |p: &Path| p.to_str().expect("utf-8 path").to_owned();
    let missing = p(&dir.join("missing"));
    // example, arguments, stdin, status, what stderr must say
    type Case<'a> = (&'a str, Vec<String>, &'a [u8], i32, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "score_export",
            vec![p(&good)],
            b"",
            0,
            "read 1 messages: 1 scored, 0 skipped",
        ),
        (
            "score_export",
            vec![p(&damaged), "--all".into()],
            b"",
            1,
            "read 4 messages: 2 scored, 2 skipped (service 1, corrupt 1)",
        ),
        (
            "score_export",
            vec![p(&damaged)],
            b"",
            1,
            "damaged.json at byte",
        ),
        (
            "score_export",
            vec![p(&truncated)],
            b"",
            1,
            "the export is damaged",
        ),
        (
            "score_export",
            vec![missing.clone()],
            b"",
            2,
            "cannot read the export",
        ),
        (
            "score_export",
            vec![p(&good), "--bogus".into()],
            b"",
            2,
            "--bogus",
        ),
        (
            "score_jsonl",
            vec![p(&jsonl_good)],
            b"",
            0,
            "read 2 lines: 2 scored, 0 with errors",
        ),
        (
            "score_jsonl",
            vec![p(&jsonl_bad)],
            b"",
            1,
            "read 3 lines: 1 scored, 2 with errors",
        ),
        (
            "score_jsonl",
            vec![],
            b"{\"text\":\"a\"}\n",
            0,
            "read 1 lines: 1 scored",
        ),
        ("score_jsonl", vec![missing.clone()], b"", 2, "cannot open"),
        ("score_jsonl", vec!["a".into(), "b".into()], b"", 2, "usage"),
        ("explain", vec![OFFER.into()], b"", 0, ""),
        ("explain", vec![], "привіт".as_bytes(), 0, ""),
        ("explain", vec![], b"\xD0\xBF\xFF\xFE", 1, "not UTF-8"),
        ("explain", vec!["--bogus".into()], b"", 2, "--bogus"),
    ];
    for (name, args, stdin, status, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with_stdin(name, &args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{name} {args:?}: {stderr}");
        assert!(stderr.contains(says), "{name} {args:?}: {stderr}");
    }
    // The damaged message is listed with its place and why.
    let out = run("score_export", &[&p(&damaged)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped: ") && stderr.contains("(line 3)") && stderr.contains("(corrupt)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A line too long to keep is one error record and the run goes on; a text over 1 MiB is cut
/// there and its record says so (memory stays bounded whatever the input).
#[test]
fn score_jsonl_bounds_lines_and_texts() {
    let dir = tempdir("long");
    let input = dir.join("long.jsonl");
    let mut bytes = format!("{{\"text\":\"{}\"}}\n", "ж".repeat(9 << 20)).into_bytes();
    bytes
        .extend_from_slice(format!("{{\"text\":\"{}\"}}\n", "ж слово ".repeat(100_000)).as_bytes());
    bytes.extend_from_slice(format!("{{\"text\":\"{OFFER}\"}}\n").as_bytes());
    std::fs::write(&input, bytes).expect("write");
    let out = run("score_jsonl", &[input.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1));
    let error = lines[0]["error"].as_str().expect("error record");
    assert!(
        error.contains("line 1") && error.contains("longer than"),
        "{error}"
    );
    assert_eq!(lines[1]["text_truncated"], true, "{}", lines[1]);
    assert!(lines[2].get("text_truncated").is_none());
    assert_eq!(lines[2]["label"], "sabotage");
    let _ = std::fs::remove_dir_all(dir);
}
