//! The HTML report (`verbovka::report`) in a real browser: headless Chromium opens the report
//! of the sample export plus hostile messages (`tests/data/report_hostile`), and the test
//! reads the DOM after the page's script ran. It fails, never skips, when Chromium cannot be
//! started: set `VERBOVKA_CHROMIUM` to its path, or install it (`apt-get install -y chromium`;
//! `.ci/run` does). Screenshots go under `target/tmp/report/`, their paths on stderr (in the log even when
//! the test passes).
//!
//! `cargo test -p verbovka --test report -- --ignored --nocapture` measures a report of 10,000
//! flagged messages: its size, the time to render it and to open it in Chromium.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use verbovka::report::{self, Entry, RunSummary};
use verbovka::telegram::Reader;
use verbovka::Detector;

/// How long one Chromium run may take before it is killed and the test fails.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).expect("create target/tmp/report");
    dir
}

/// Chromium's path: `VERBOVKA_CHROMIUM`, else the first of the usual names on `PATH`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("VERBOVKA_CHROMIUM") {
        return PathBuf::from(p);
    }
    let names = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "headless Chromium is needed to test the HTML report and none was found (looked for \
         {names:?} on PATH): install it (Debian: apt-get install -y chromium; .ci/run does) \
         or set VERBOVKA_CHROMIUM to its path"
    );
}

/// What one headless run gave: the DOM after scripts ran, and how long the run took.
struct Rendered {
    dom: String,
    wall: Duration,
}

/// Opens `url` in headless Chromium with a fresh profile, dumps the DOM and, if asked, takes
/// a screenshot. Kills it and fails after [`CHROMIUM_LIMIT`].
fn render(url: &str, screenshot: Option<&Path>, tag: &str) -> Rendered {
    let dir = out_dir();
    let profile = dir.join(format!("profile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let (out_path, err_path) = (
        dir.join(format!("{tag}.dom")),
        dir.join(format!("{tag}.err")),
    );
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1366,2200",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    if let Some(png) = screenshot {
        let _ = std::fs::remove_file(png);
        cmd.arg(format!("--screenshot={}", png.display()));
    }
    cmd.arg("--dump-dom").arg(url);
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("dom file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium().display()));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if start.elapsed() > CHROMIUM_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {CHROMIUM_LIMIT:?}; stderr:\n{}",
                tail(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = start.elapsed();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        status.success(),
        "chromium failed ({status}); stderr:\n{}",
        tail(&err_path)
    );
    let dom = std::fs::read_to_string(&out_path).expect("read the dumped DOM");
    assert!(
        dom.contains("</html>"),
        "chromium dumped no DOM; stderr:\n{}",
        tail(&err_path)
    );
    Rendered { dom, wall }
}

/// Every element of a serialised DOM: its name and its attributes' names. In a DOM dump text
/// never holds a raw `<`, so a `<` followed by a letter opens a tag; quoted values are
/// stepped over.
fn elements(dom: &str) -> Vec<(String, Vec<String>)> {
    let b = dom.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        i += 1;
        let word = |i: &mut usize| {
            let s = *i;
            while *i < b.len() && !b[*i].is_ascii_whitespace() && !b"=>/".contains(&b[*i]) {
                *i += 1;
            }
            dom[s..*i].to_ascii_lowercase()
        };
        let name = word(&mut i);
        let mut attrs = Vec::new();
        while i < b.len() && b[i] != b'>' {
            if b[i].is_ascii_whitespace() || b[i] == b'/' {
                i += 1;
            } else if b[i] == b'=' {
                i += 1;
                if let Some(&q @ (b'"' | b'\'')) = b.get(i) {
                    i += 1;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    i += 1;
                } else {
                    word(&mut i);
                }
            } else {
                attrs.push(word(&mut i));
            }
        }
        out.push((name, attrs));
    }
    out
}

fn tail(path: &Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn file_url(path: &Path) -> String {
    format!(
        "file://{}",
        path.canonicalize().expect("absolute path").display()
    )
}

/// Reads an export and scores it: the flagged entries, and the reader's counts.
fn scored(detector: &Detector, path: &Path) -> (Vec<Entry>, RunSummary) {
    let mut reader = Reader::open(path).expect("open export");
    let messages: Vec<_> = reader.by_ref().map(|m| m.expect("message")).collect();
    let texts: Vec<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    let verdicts = detector.score_batch(&texts);
    let entries = messages
        .iter()
        .zip(verdicts)
        .filter(|(_, v)| v.is_flagged())
        .map(|(m, v)| Entry::from_message(m, v))
        .collect();
    let run = RunSummary::from_read_stats(path.display().to_string(), reader.stats());
    (entries, run)
}

/// The `data-…` value of the ready marker the page's script writes when it has drawn.
fn ready_attr<'a>(dom: &'a str, name: &str) -> &'a str {
    let at = dom
        .find("id=\"vb-ready\"")
        .expect("the page's script did not finish (no ready marker)");
    let tag = &dom[at..at + dom[at..].find('>').expect("tag end")];
    let key = format!("{name}=\"");
    let from = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    &tag[from..from + tag[from..].find('"').expect("attribute end")]
}

/// The report of the sample export and the hostile messages, its entries and its file.
fn sample_report(detector: &Detector) -> (Vec<Entry>, PathBuf) {
    let (mut entries, mut run) = scored(detector, &manifest("examples/data/sample_export"));
    let (hostile, hostile_run) = scored(detector, &manifest("tests/data/report_hostile"));
    assert_eq!(hostile.len(), 2, "both hostile offers are flagged");
    entries.extend(hostile);
    run.source = "sample_export + tests/data/report_hostile".into();
    run.read += hostile_run.read;
    run.scored += hostile_run.scored;
    run.detector = "rules + model".into();
    run.thresholds = Some(detector.thresholds());
    let path = out_dir().join("report-sample.html");
    std::fs::write(&path, report::html(&run, &entries)).expect("write report");
    (entries, path)
}

#[test]
fn the_report_opens_in_chromium_and_hostile_text_stays_text() {
    let detector = Detector::new().expect("detector");
    let (entries, path) = sample_report(&detector);
    let html = std::fs::read_to_string(&path).expect("read report");
    // Two scripts, the data and the page's own: none from the messages.
    assert_eq!(
        html.matches("<script").count(),
        2,
        "script tags in the file"
    );
    assert!(!html.contains("<img"), "an <img> reached the file");

    let png = out_dir().join("report-sample.png");
    let page = render(&file_url(&path), Some(&png), "sample");
    let dom = &page.dom;
    // Written to stderr itself, not through `println!`: the harness keeps a passing test's
    // printed output to itself, and CI's log should show where the screenshot is.
    let _ = writeln!(
        std::io::stderr(),
        "report screenshot: {} (chromium ran {:.2} s)",
        png.display(),
        page.wall.as_secs_f64()
    );
    let shot = std::fs::read(&png).expect("the screenshot was written");
    assert!(
        shot.starts_with(b"\x89PNG") && shot.len() > 20_000,
        "screenshot"
    );

    assert_eq!(ready_attr(dom, "data-items"), entries.len().to_string());
    // Every flagged message is drawn (fewer than a page), with its id, chat and highlights.
    assert_eq!(
        dom.matches("<article class=\"msg").count(),
        entries.len(),
        "one card per flagged message"
    );
    for e in &entries {
        let id = format!("#{}", e.message_id.expect("id"));
        assert!(dom.contains(&format!(">{id}<")), "message {id} is shown");
    }
    let marks = dom.matches("<mark class=\"hl ").count();
    let spans: usize = entries.iter().map(|e| e.verdict.evidence.len()).sum();
    assert!(
        marks >= spans.min(entries.len() * 2),
        "{marks} highlights for {spans} evidence spans"
    );
    for role in ["action", "target", "payment", "contact", "hook"] {
        assert!(
            dom.contains(&format!("<mark class=\"hl r-{role}\" title=")),
            "a {role} highlight in a message"
        );
    }
    assert!(dom.contains("data-rule=\"sab.arson\""), "rule ids on marks");
    assert!(
        dom.contains(">підпалити</mark>"),
        "the arson verb is marked"
    );

    // The hostile text is on the page as text, and none of it ran.
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'"),
        "the <script> of a message shows as text"
    );
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the <img> shows as text"
    );
    assert!(
        dom.contains("&lt;/script&gt;&lt;script&gt;"),
        "the break-out shows as text"
    );
    assert!(!dom.contains("data-pwned=\""), "a message's script ran");
    assert!(!dom.contains("<img"), "a message's <img> became an element");
    assert!(
        dom.contains("<title>verbovka report — sample_export + tests/data/report_hostile</title>"),
        "the title was changed"
    );
    // Names in the static summary and in the cards are text too.
    assert!(
        dom.contains("Hostile &lt;b&gt;chat&lt;/b&gt;"),
        "chat name as text"
    );
    assert!(
        dom.contains("&quot;&gt;&lt;img src=x onerror=&quot;")
            || dom.contains("\"&gt;&lt;img src=x onerror=\""),
        "author name as text"
    );
    // No element a message could have made: no event-handler attribute anywhere (the page
    // sets its handlers from script), only the two scripts of the report.
    let tags = elements(dom);
    for (name, attrs) in &tags {
        assert!(
            !attrs
                .iter()
                .any(|a| a.starts_with("on") || a == "data-pwned"),
            "<{name} {attrs:?}> has an attribute from a message"
        );
        assert!(
            !matches!(name.as_str(), "img" | "iframe" | "object" | "embed"),
            "a <{name}> element from a message"
        );
    }
    assert_eq!(tags.iter().filter(|t| t.0 == "script").count(), 2);
    assert!(dom.contains("кінець\u{2028}рядка"), "U+2028 survives");
}

#[test]
fn filters_in_the_address_select_what_is_shown() {
    let detector = Detector::new().expect("detector");
    let (entries, path) = sample_report(&detector);
    let min = 0.99f32;
    let wanted: Vec<&Entry> = entries
        .iter()
        .filter(|e| {
            e.verdict.label.as_str() == "lure" && (e.verdict.risk * 1000.0).round() / 1000.0 >= min
        })
        .collect();
    let others = entries.len() - wanted.len();
    assert!(!wanted.is_empty() && others > 0, "the filter must choose");
    let url = format!("{}#labels=lure&min={min}", file_url(&path));
    let dom = render(&url, None, "filtered").dom;
    assert_eq!(
        dom.matches("<article class=\"msg").count(),
        wanted.len(),
        "only lure at ≥ {min}"
    );
    assert!(!dom.contains("<article class=\"msg lab-sabotage"));
    let pos = format!("1–{0} of {0} (of {1})", wanted.len(), entries.len());
    assert!(dom.contains(&pos), "pager says {pos}");
}

/// The data block decodes to exactly the texts and spans given; no `<`, `>`, `&`, U+2028 or
/// U+2029 is left raw in it.
#[test]
fn the_embedded_data_is_escaped_and_round_trips() {
    let detector = Detector::rules_only().expect("detector");
    let texts = [
        "Треба підпалити авто ЗСУ, 500$ одразу після відео, пиши @x </script><!-- & \u{2028}\u{2029}",
        "Нужны смелые ребята для разовых заданий. Оплата от 500$ в крипте сразу, пиши в лс <b>",
    ];
    let entries: Vec<Entry> = texts
        .iter()
        .map(|t| Entry::new(*t, detector.score(t)))
        .collect();
    let html = report::html(&RunSummary::new("<stdin>"), &entries);
    let open = "<script type=\"application/json\" id=\"vb-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let json = &html[start..start + html[start..].find("</script>").expect("end")];
    for bad in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
        assert!(!json.contains(bad), "raw {bad:?} in the data");
    }
    let data: serde_json::Value = serde_json::from_str(json).expect("the data is JSON");
    let items = data["items"].as_array().expect("items");
    for (item, text) in items.iter().zip(texts) {
        let joined: String = item["seg"]
            .as_array()
            .expect("segments")
            .iter()
            .map(|s| s.as_str().or_else(|| s[0].as_str()).expect("run text"))
            .collect();
        assert_eq!(joined, text, "the runs are the text");
        assert!(
            item["seg"].as_array().unwrap().iter().any(|s| s.is_array()),
            "some run is marked"
        );
    }
    assert!(html.contains("<title>verbovka report — &lt;stdin&gt;</title>"));
}

/// 10,000 flagged messages, scored for real: the file's size, the time to write it and to
/// open it in Chromium (the page's own `performance.now()` when its first page is drawn, and
/// the whole headless run). Run with `--ignored --nocapture`.
#[test]
#[ignore = "a measurement (about a minute); run with --ignored --nocapture"]
fn ten_thousand_flagged_messages_open_fast() {
    const N: usize = 10_000;
    let detector = Detector::new().expect("detector");
    let (seeds, _) = scored(&detector, &manifest("examples/data/sample_export"));
    let (hostile, _) = scored(&detector, &manifest("tests/data/report_hostile"));
    let seeds: Vec<Entry> = seeds.into_iter().chain(hostile).collect();
    let mut entries = Vec::with_capacity(N);
    let mut round = 0usize;
    let start = Instant::now();
    while entries.len() < N {
        let batch: Vec<(String, &Entry)> = (0..1000)
            .map(|i| {
                let k = round * 1000 + i;
                let seed = &seeds[k % seeds.len()];
                (format!("{}\nоголошення {k}", seed.text), seed)
            })
            .collect();
        let texts: Vec<&str> = batch.iter().map(|(t, _)| t.as_str()).collect();
        for ((text, seed), v) in batch.iter().zip(detector.score_batch(&texts)) {
            if v.is_flagged() && entries.len() < N {
                let k = entries.len();
                let mut e = Entry::new(text.clone(), v);
                e.chat = Some(format!("Чат {}", k % 40));
                e.author = Some(format!("Автор {}", k % 700));
                e.author_id = Some(format!("user{}", 100_000 + k % 700));
                e.message_id = Some(k as i64 + 1);
                e.date = Some(format!(
                    "2024-{:02}-{:02}T{:02}:00:00Z",
                    3 + k % 3,
                    1 + k % 28,
                    k % 24
                ));
                e.link = seed.link.clone();
                entries.push(e);
            }
        }
        round += 1;
    }
    let scoring = start.elapsed();
    let mut run = RunSummary::new("10,000 flagged messages (sample texts varied)");
    run.read = (round * 1000) as u64;
    run.scored = run.read;
    run.thresholds = Some(detector.thresholds());
    let start = Instant::now();
    let html = report::html(&run, &entries);
    let writing = start.elapsed();
    let path = out_dir().join("report-10k.html");
    std::fs::write(&path, &html).expect("write");
    println!(
        "10k report: {} flagged of {} scored in {:.1} s; rendered {} bytes ({:.1} MB) in {:.0} ms",
        entries.len(),
        run.scored,
        scoring.as_secs_f64(),
        html.len(),
        html.len() as f64 / 1e6,
        writing.as_secs_f64() * 1e3
    );
    let mut runs = Vec::new();
    for i in 0..3 {
        let png = out_dir().join("report-10k.png");
        let page = render(&file_url(&path), (i == 0).then_some(png.as_path()), "10k");
        assert_eq!(ready_attr(&page.dom, "data-items"), N.to_string());
        assert_eq!(page.dom.matches("<article class=\"msg").count(), 50);
        let ms: f64 = ready_attr(&page.dom, "data-ms").parse().expect("ms");
        let script: f64 = ready_attr(&page.dom, "data-script-ms").parse().expect("ms");
        println!(
            "  open {i}: first page drawn {ms:.0} ms after navigation start (script {script:.0} ms); headless run {:.2} s",
            page.wall.as_secs_f64()
        );
        runs.push(ms);
    }
    runs.sort_by(f64::total_cmp);
    println!("  median first page drawn: {:.0} ms", runs[1]);
    assert!(runs[1] < 10_000.0, "opening took {} ms", runs[1]);
}
