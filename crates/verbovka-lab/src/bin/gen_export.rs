//! Writes a large synthetic Telegram Desktop export (whole-account JSON, the way Telegram
//! Desktop formats it), and times the export reader over any export.
//!
//! ```text
//! cargo run --release -p verbovka-lab --bin gen_export -- write /tmp/big_export.json [--mb 1024]
//! cargo run --release -p verbovka-lab --bin gen_export -- read /tmp/big_export.json
//! ```
//! The generated file is for measurement only: write it outside the repository and delete it
//! afterwards. Messages mix every shape the reader handles (plain and entity-array text,
//! captions, service messages, stickers, forwards, replies, `\xNN` escapes).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

use verbovka::telegram::{Reader, SkipReason};

/// A small deterministic generator (xorshift64*): the same file for the same size.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "сьогодні",
    "світло",
    "черга",
    "новини",
    "місто",
    "робота",
    "оплата",
    "дякую",
    "привіт",
    "завтра",
    "вечір",
    "район",
    "автобус",
    "магазин",
    "ціни",
    "погода",
    "дощ",
    "школа",
    "сегодня",
    "работа",
    "деньги",
    "вечером",
    "друзья",
    "новости",
    "город",
    "цены",
    "спасибо",
    "подработка",
    "смена",
    "доставка",
    "курьер",
    "вакансия",
    "график",
    "зарплата",
    "опыт",
];
const NAMES: &[&str] = &[
    "Олена К.",
    "Іван",
    "Марія Петренко",
    "Сергей",
    "Андрій",
    "Bot Helper",
    "Катя",
];

fn sentence(rng: &mut Rng) -> String {
    let n = 4 + rng.below(30);
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    s.push('.');
    s
}

/// A JSON string literal as Telegram Desktop writes it (control characters as `\xNN`).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 32 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn message(rng: &mut Rng, id: u64, ts: u64, w: &mut impl Write) -> std::io::Result<()> {
    let kind = rng.below(100);
    let from = rng.pick(NAMES);
    let uid = 100_000 + NAMES.iter().position(|n| *n == from).unwrap_or(0);
    let date = format!("   \"date\": \"2024-03-01T10:00:00\",\n   \"date_unixtime\": \"{ts}\",\n");
    write!(w, "  {{\n   \"id\": {id},\n")?;
    if kind < 5 {
        write!(w, "   \"type\": \"service\",\n{date}   \"actor\": {},\n   \"actor_id\": \"user{uid}\",\n   \"action\": \"pin_message\",\n   \"message_id\": {},\n   \"text\": \"\",\n   \"text_entities\": []\n  }}", json_str(from), id.saturating_sub(3))?;
        return Ok(());
    }
    write!(
        w,
        "   \"type\": \"message\",\n{date}   \"from\": {},\n   \"from_id\": \"user{uid}\",\n",
        json_str(from)
    )?;
    if kind < 10 {
        return write!(w, "   \"file\": \"(File not included. Change data exporting settings to download.)\",\n   \"media_type\": \"sticker\",\n   \"sticker_emoji\": \"👍\",\n   \"text\": \"\",\n   \"text_entities\": []\n  }}");
    }
    if kind < 20 {
        writeln!(w, "   \"forwarded_from\": {},", json_str(rng.pick(NAMES)))?;
    }
    if kind.is_multiple_of(7) {
        writeln!(
            w,
            "   \"reply_to_message_id\": {},",
            id.saturating_sub(1 + rng.below(20) as u64)
        )?;
    }
    if kind.is_multiple_of(11) {
        writeln!(
            w,
            "   \"photo\": \"photos/photo_{id}.jpg\",\n   \"width\": 1280,\n   \"height\": 960,"
        )?;
    }
    let mut text = sentence(rng);
    for _ in 0..rng.below(4) {
        text.push('\n');
        text.push_str(&sentence(rng));
    }
    if kind < 40 {
        // Entity array: plain, bold, link, text_link.
        let (a, b) = (sentence(rng), sentence(rng));
        let url = format!("https://example.org/p/{id}");
        write!(w, "   \"text\": [\n    {},\n    {{\n     \"type\": \"bold\",\n     \"text\": {}\n    }},\n    \" \",\n    {{\n     \"type\": \"text_link\",\n     \"text\": \"тут\",\n     \"href\": \"{url}\"\n    }}\n   ],\n", json_str(&a), json_str(&b))?;
        write!(w, "   \"text_entities\": [\n    {{\n     \"type\": \"plain\",\n     \"text\": {}\n    }},\n    {{\n     \"type\": \"bold\",\n     \"text\": {}\n    }},\n    {{\n     \"type\": \"plain\",\n     \"text\": \" \"\n    }},\n    {{\n     \"type\": \"text_link\",\n     \"text\": \"тут\",\n     \"href\": \"{url}\"\n    }}\n   ]\n  }}", json_str(&a), json_str(&b))?;
    } else {
        if kind.is_multiple_of(13) {
            text.push('\u{1}'); // written as \x01 by json_str, as Telegram Desktop does
        }
        let t = json_str(&text);
        write!(w, "   \"text\": {t},\n   \"text_entities\": [\n    {{\n     \"type\": \"plain\",\n     \"text\": {t}\n    }}\n   ]\n  }}")?;
    }
    Ok(())
}

fn write_export(path: &str, megabytes: u64) -> std::io::Result<(u64, u64)> {
    let target = megabytes * 1024 * 1024;
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut messages = 0u64;
    let chat_types = [
        "public_supergroup",
        "private_supergroup",
        "public_channel",
        "private_group",
        "personal_chat",
    ];
    let mut out = Counter {
        inner: &mut w,
        n: 0,
    };
    write!(out, "{{\n \"about\": \"Synthetic export for throughput measurement\",\n \"personal_information\": {{\n  \"user_id\": 1,\n  \"first_name\": \"Test\"\n }},\n \"chats\": {{\n  \"about\": \"This page lists all chats from this export.\",\n  \"list\": [\n")?;
    let mut chat = 0u64;
    while out.n < target {
        chat += 1;
        if chat > 1 {
            writeln!(out, ",")?;
        }
        write!(
            out,
            "   {{\n    \"name\": \"Чат {chat}\",\n    \"type\": \"{}\",\n    \"id\": {},\n    \"messages\": [\n",
            chat_types[(chat % 5) as usize],
            1_700_000_000 + chat
        )?;
        // Chats of ~64 MiB each, so that the whole-account path is exercised.
        let chat_end = (out.n + 64 * 1024 * 1024).min(target);
        let mut id = 0u64;
        while out.n < chat_end {
            id += 1;
            if id > 1 {
                writeln!(out, ",")?;
            }
            message(&mut rng, id, 1_709_280_000 + id * 37, &mut out)?;
            messages += 1;
        }
        write!(out, "\n    ]\n   }}")?;
    }
    write!(out, "\n  ]\n }}\n}}\n")?;
    let written = out.n;
    w.flush()?;
    Ok((written, messages))
}

/// Counts bytes written.
struct Counter<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn read_export(path: &str) -> Result<(), verbovka::Error> {
    let start = Instant::now();
    let mut reader = Reader::open(path)?;
    let mut text_bytes = 0u64;
    for message in reader.by_ref() {
        text_bytes += message?.text.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = reader.bytes_read();
    let stats = reader.stats();
    println!(
        "read {:.1} MB in {secs:.2} s: {:.0} MB/s, {:.0} messages/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs,
        stats.read() as f64 / secs
    );
    let skipped: Vec<String> = SkipReason::ALL
        .iter()
        .map(|r| format!("{r} {}", stats.skipped(*r)))
        .collect();
    println!(
        "chats {}, yielded {}, skipped: {}; text {:.1} MB",
        stats.chats,
        stats.yielded,
        skipped.join(", "),
        text_bytes as f64 / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_export write PATH [--mb N] | gen_export read PATH";
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", path, rest @ ..] => {
            let mb = match rest {
                [] => 1024,
                ["--mb", n] => match n.parse() {
                    Ok(n) => n,
                    Err(_) => {
                        eprintln!("--mb wants a whole number of MiB\n{usage}");
                        return ExitCode::FAILURE;
                    }
                },
                _ => {
                    eprintln!("{usage}");
                    return ExitCode::FAILURE;
                }
            };
            let start = Instant::now();
            match write_export(path, mb) {
                Ok((bytes, messages)) => {
                    println!(
                        "wrote {path}: {:.1} MB, {messages} messages in {:.1} s",
                        bytes as f64 / 1e6,
                        start.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        ["read", path] => match read_export(path) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("{usage}");
            ExitCode::FAILURE
        }
    }
}
