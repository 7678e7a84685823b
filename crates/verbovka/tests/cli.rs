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
