//! Memory per input byte, counted by a global allocator (this test binary's own): the peak of
//! live heap bytes while one text is scored, over the text's length, on 1–10 MB inputs. The
//! bound the crate docs state (and the input readers' limits rest on) is checked here, by
//! counting, never by a stopwatch or RSS.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as given by the caller.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as given by the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let live = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One measurement at a time (the counters are global).
static ONE: Mutex<()> = Mutex::new(());

/// Peak live heap bytes above the level before `f`, while `f` runs.
fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let out = f();
    (PEAK.load(Ordering::Relaxed).saturating_sub(before), out)
}

fn texts(len: usize) -> Vec<(&'static str, String)> {
    let fill = |unit: &str| unit.repeat(len / unit.len() + 1);
    vec![
        (
            "ukrainian prose",
            fill("Треба підпалити авто ЗСУ, 500$ одразу після відео, пиши @x. "),
        ),
        ("one long word", fill("ж")),
        ("spaced letters", fill("п о д ж о г  ")),
        ("U+FDFA (expands 18x)", fill("\u{FDFA}")),
        ("digits", fill("0")),
        ("links", fill("https://t.me/x ")),
    ]
}

/// The detector's worst case, bytes of heap per byte of text (U+FDFA, which NFKC expands 18
/// times, measured at 144); the crate docs and the readers' text limits rest on it.
const WORST_PER_BYTE: f64 = 160.0;

/// Memory is linear in the text (the same bytes per input byte at 1 and 4 MB, within a
/// quarter) and at most [`WORST_PER_BYTE`] per byte, for every kind of text tried.
#[test]
fn bytes_allocated_per_input_byte() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let detector = verbovka::Detector::new().expect("detector");
    let _ = detector.score("прогрів"); // lazy state built outside the measurement
    let small = texts(1 << 20);
    let large = texts(4 << 20);
    for ((name, small), (_, large)) in small.iter().zip(&large) {
        let per_byte = |text: &str| {
            let (peak, verdict) = peak_during(|| detector.score(text));
            assert!(verdict.risk.is_finite());
            peak as f64 / text.len() as f64
        };
        let (a, b) = (per_byte(small), per_byte(large));
        eprintln!("{name:>22}: {a:6.1} bytes per byte at 1 MB, {b:6.1} at 4 MB");
        assert!(
            b <= a * 1.25 + 2.0,
            "{name}: {a:.1} -> {b:.1} bytes per byte: not linear"
        );
        assert!(
            a.max(b) <= WORST_PER_BYTE,
            "{name}: {a:.1} / {b:.1} bytes per byte"
        );
    }
}

/// Through the export reader, a 10 MB message of the worst text stays under 300 MB of heap:
/// the reader cuts texts at 1 MiB (`Reader::max_text_bytes`), so the detector's share is
/// bounded, and the reader's own window follows the message (at most 16 MiB is kept).
#[test]
fn an_export_message_of_any_size_stays_under_300_mb() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let detector = verbovka::Detector::new().expect("detector");
    let _ = detector.score("прогрів");
    for (name, text) in texts(10 << 20) {
        let json = format!(
            r#"{{"name": "c", "type": "personal_chat", "id": 1, "messages": [{{"id": 1, "type": "message", "text": {}}}]}}"#,
            serde_json::to_string(&text).expect("json")
        );
        drop(text);
        let len = json.len();
        let (peak, truncated) = peak_during(|| {
            let reader = verbovka::telegram::Reader::from_json_reader(
                std::io::Cursor::new(json.into_bytes()),
                "mem.json",
            );
            let mut truncated = false;
            for m in reader {
                let m = m.expect("message");
                truncated |= m.truncated;
                assert!(detector.score(&m.text).risk.is_finite());
            }
            truncated
        });
        eprintln!("{name:>22}: {len} bytes of export, peak {peak} bytes");
        assert!(truncated, "{name}");
        // The export itself (held by the Cursor) counts in the peak: subtract it.
        assert!(peak - len < 300 << 20, "{name}: {peak} bytes");
    }
}
