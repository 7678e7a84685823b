//! Reader of Telegram Desktop's HTML export (`messages.html`, `messages2.html`, …).
//!
//! Each page (at most 1,000 messages) is parsed whole with `scraper` (html5ever, the HTML5
//! parsing algorithm, so broken markup is recovered as a browser would) and turned into
//! messages before the next page is opened. The layout read here is the one Telegram Desktop
//! writes:
//!
//! ```text
//! div.message.default[.joined]#message123
//!   div.body
//!     div.date[title="14.03.2022 12:34:56 UTC+03:00"]
//!     div.from_name                      (absent on "joined" messages: same sender as before)
//!     div.forwarded.body > div.from_name (forwarded: original sender; the text sits inside)
//!     div.reply_to > a[href="#go_to_message120"]
//!     div.media_wrap                     (photo, file, poll…; the caption is the div.text)
//!     div.text                           (the text, with <a href>, <br>, <strong>…)
//! div.message.service#message124         (joins, pins; negative ids are date separators)
//! ```
//! HTML exports do not record the chat's id or type, nor the sender's id.
//!
//! Hostile pages: text is flattened by walking the tree with an explicit stack (no recursion,
//! so any depth of nesting is read); a page larger than [`MAX_PAGE_BYTES`] is an error (a real
//! page is a few megabytes); a page that does not end with `</html>` is truncated: its
//! messages are yielded, then the damage is reported.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use scraper::{ElementRef, Html, Node};

use super::{date, Chat, ChatKind, Item, Message, SkipReason, TextBuilder};
use crate::error::{Error, Result};

/// The largest HTML page read (Telegram Desktop writes at most 1,000 messages a page, a few
/// megabytes): the page is parsed whole, so this bounds the reader's memory.
pub(crate) const MAX_PAGE_BYTES: u64 = 32 << 20;

/// One page: its path, and for a page opened by [`super::Reader::open`], the handle that told
/// its format with the bytes it read (so a pipe is read once, whole), or any byte source.
pub(crate) struct Page {
    pub(crate) path: PathBuf,
    pub(crate) opened: Option<(Vec<u8>, Box<dyn Read + Send>)>,
}

impl From<PathBuf> for Page {
    fn from(path: PathBuf) -> Page {
        Page { path, opened: None }
    }
}

/// The pages of one chat, in reading order.
pub(crate) struct ChatPages {
    pub(crate) pages: Vec<Page>,
}

pub(crate) struct HtmlPages {
    chats: Vec<ChatPages>,
    chat: usize,
    page: usize,
    queue: VecDeque<Item>,
    /// Damage found on the page being drained: reported once its messages are out.
    damage: Option<Error>,
    /// The sender of the previous non-service message, for "joined" messages.
    carry: Option<String>,
    bytes_done: u64,
    total: u64,
}

/// The chats of an HTML export folder: the folder itself when it holds `messages.html`, else
/// every `chats/*/` holding one (a whole-account export), sorted by folder name.
pub(crate) fn find_chats(dir: &Path) -> std::io::Result<Vec<ChatPages>> {
    if dir.join("messages.html").is_file() {
        return Ok(vec![ChatPages {
            pages: pages_in(dir)?,
        }]);
    }
    let chats_dir = dir.join("chats");
    if !chats_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = fs::read_dir(&chats_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("messages.html").is_file())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| pages_in(d).map(|pages| ChatPages { pages }))
        .collect()
}

/// `messages.html`, `messages2.html`, … of a folder, by page number.
fn pages_in(dir: &Path) -> std::io::Result<Vec<Page>> {
    let mut pages: Vec<(u64, PathBuf)> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let number = name
                .to_str()?
                .strip_prefix("messages")?
                .strip_suffix(".html")?;
            let n = if number.is_empty() {
                1
            } else {
                number.parse().ok()?
            };
            Some((n, e.path()))
        })
        .collect();
    pages.sort();
    Ok(pages.into_iter().map(|(_, p)| Page::from(p)).collect())
}

impl HtmlPages {
    pub(crate) fn new(chats: Vec<ChatPages>) -> HtmlPages {
        let total = chats
            .iter()
            .flat_map(|c| &c.pages)
            .filter_map(|p| fs::metadata(&p.path).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        HtmlPages {
            chats,
            chat: 0,
            page: 0,
            queue: VecDeque::new(),
            damage: None,
            carry: None,
            bytes_done: 0,
            total,
        }
    }

    pub(crate) fn bytes_done(&self) -> u64 {
        self.bytes_done
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    pub(crate) fn next_item(&mut self, chats: &mut u64) -> Result<Option<Item>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Ok(Some(item));
            }
            if let Some(damage) = self.damage.take() {
                return Err(damage);
            }
            let Some(chat) = self.chats.get_mut(self.chat) else {
                return Ok(None);
            };
            let Some(page) = chat.pages.get_mut(self.page) else {
                self.chat += 1;
                self.page = 0;
                self.carry = None;
                continue;
            };
            if self.page == 0 {
                *chats += 1;
            }
            self.page += 1;
            let path = page.path.clone();
            let bytes = read_page(page).map_err(|e| Error::io(&path, e))?;
            self.bytes_done += bytes.len() as u64;
            if bytes.len() as u64 > MAX_PAGE_BYTES {
                return Err(Error::Data {
                    origin: path.display().to_string(),
                    message: format!(
                        "an HTML page larger than {} MiB: not a Telegram Desktop page (it writes \
                         at most 1,000 messages a page)",
                        MAX_PAGE_BYTES >> 20
                    ),
                });
            }
            let text = String::from_utf8_lossy(&bytes);
            if !ends_with_html_close(&text) {
                self.damage = Some(Error::Data {
                    origin: format!("{} at byte {}", path.display(), bytes.len()),
                    message: "truncated HTML page: it does not end with `</html>` (the messages \
                              before the cut were read; the last one may be incomplete)"
                        .into(),
                });
            }
            self.parse_page(&text);
        }
    }

    fn parse_page(&mut self, page: &str) {
        let doc = Html::parse_document(page);
        let mut chat = Chat {
            name: None,
            id: None,
            kind: ChatKind::Unknown,
            left: false,
        };
        for node in doc.tree.root().descendants() {
            let Some(el) = ElementRef::wrap(node) else {
                continue;
            };
            if chat.name.is_none() && has_class(el, "page_header") {
                chat.name = el
                    .descendants()
                    .filter_map(ElementRef::wrap)
                    .find(|e| has_class(*e, "text"))
                    .map(|e| squash(&e.text().collect::<String>()))
                    .filter(|n| !n.is_empty());
            }
            if el.value().name() == "div" && has_class(el, "message") {
                if let Some(item) = self.message(el, &chat) {
                    self.queue.push_back(item);
                }
            }
        }
    }

    fn message(&mut self, el: ElementRef<'_>, chat: &Chat) -> Option<Item> {
        let id = el
            .value()
            .id()
            .and_then(|id| id.strip_prefix("message"))
            .and_then(|n| n.parse::<i64>().ok());
        if has_class(el, "service") {
            self.carry = None;
            // Negative ids are the date separators between days: not messages.
            return (!matches!(id, Some(id) if id < 0)).then_some(Item::Skip(SkipReason::Service));
        }
        if !has_class(el, "default") {
            return Some(Item::Skip(SkipReason::UnknownType));
        }
        let Some(id) = id.filter(|&id| id >= 0) else {
            return Some(Item::Skip(SkipReason::Malformed));
        };
        let body = child_with_class(el, "body")?;
        let author = match child_with_class(body, "from_name") {
            Some(name) => Some(sender_name(name)).filter(|n| !n.is_empty()),
            None if has_class(el, "joined") => self.carry.clone(),
            None => None,
        };
        self.carry = author.clone();
        let date_unixtime = child_with_class(body, "date")
            .and_then(|d| d.value().attr("title"))
            .and_then(date::parse_html_title);
        // `div.forwarded.body`, not the `div.pull_left.forwarded.userpic_wrap` before it.
        let forwarded = body
            .children()
            .filter_map(ElementRef::wrap)
            .find(|c| has_class(*c, "forwarded") && has_class(*c, "body"));
        let forwarded_from = forwarded
            .and_then(|f| child_with_class(f, "from_name"))
            .map(sender_name)
            .filter(|n| !n.is_empty());
        let reply_to_message_id = child_with_class(body, "reply_to").and_then(|r| {
            r.descendants()
                .filter_map(ElementRef::wrap)
                .filter_map(|a| a.value().attr("href"))
                .find_map(|href| {
                    let n = &href[href.find("go_to_message")? + "go_to_message".len()..];
                    n.parse::<i64>().ok()
                })
        });
        let mut tb = TextBuilder::default();
        let text_div = child_with_class(body, "text")
            .or_else(|| forwarded.and_then(|f| child_with_class(f, "text")));
        if let Some(div) = text_div {
            flatten(div, &mut tb);
            tb.text = tb.text.trim().to_owned();
        }
        let media = child_with_class(body, "media_wrap")
            .or_else(|| forwarded.and_then(|f| child_with_class(f, "media_wrap")));
        if let Some(media) = media {
            for e in media.descendants().filter_map(ElementRef::wrap) {
                if has_class(e, "question") || has_class(e, "answer") {
                    tb.push_block(&squash(&e.text().collect::<String>()));
                }
            }
        }
        if tb.text.trim().is_empty() {
            return Some(Item::Skip(SkipReason::Empty));
        }
        Some(Item::Message(Message {
            chat: chat.clone(),
            id,
            date_unixtime,
            author,
            author_id: None,
            forwarded_from,
            forwarded_from_id: None,
            reply_to_message_id,
            text: tb.text,
            links: tb.links,
            truncated: false,
        }))
    }
}

/// A page's bytes, at most [`MAX_PAGE_BYTES`] + 1 of them (more is an error for the caller).
fn read_page(page: &mut Page) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match page.opened.take() {
        Some((head, file)) => {
            bytes.extend_from_slice(&head);
            let left = (MAX_PAGE_BYTES + 1).saturating_sub(head.len() as u64);
            file.take(left).read_to_end(&mut bytes)?;
        }
        None => {
            File::open(&page.path)?
                .take(MAX_PAGE_BYTES + 1)
                .read_to_end(&mut bytes)?;
        }
    }
    Ok(bytes)
}

/// Whether a page ends as every page Telegram Desktop writes does: `</html>`, then whitespace.
fn ends_with_html_close(page: &str) -> bool {
    let end = page.trim_end().as_bytes();
    end.len() >= 7 && end[end.len() - 7..].eq_ignore_ascii_case(b"</html>")
}

fn has_class(el: ElementRef<'_>, class: &str) -> bool {
    el.value().classes().any(|c| c == class)
}

fn child_with_class<'a>(el: ElementRef<'a>, class: &str) -> Option<ElementRef<'a>> {
    el.children()
        .filter_map(ElementRef::wrap)
        .find(|c| has_class(*c, class))
}

/// Collapses the layout whitespace of a name or a header.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A `from_name`'s own text: without the forwarded date `<span>` and the ` via @bot` suffix.
fn sender_name(el: ElementRef<'_>) -> String {
    let own: String = el
        .children()
        .filter_map(|n| n.value().as_text().map(|t| &**t))
        .collect();
    let name = squash(&own);
    match name.rfind(" via @") {
        Some(i) if !name[i + 6..].contains(' ') => name[..i].to_owned(),
        _ => name,
    }
}

/// The text a person sees in a `div.text`: text nodes, `<br>` as newlines, link targets kept.
/// The nodes are visited in document order by `descendants` (iterative: nesting depth costs
/// no stack; a recursive walk overflowed it at ~12,000 nested `<span>`s).
fn flatten(el: ElementRef<'_>, tb: &mut TextBuilder) {
    for node in el.descendants().skip(1) {
        match node.value() {
            Node::Text(t) => tb.text.push_str(t),
            Node::Element(e) => match e.name() {
                "br" => tb.text.push('\n'),
                "a" => {
                    let href = e.attr("href").unwrap_or_default();
                    let absolute = ["http://", "https://", "tg://"].iter().any(|p| {
                        href.get(..p.len())
                            .is_some_and(|h| h.eq_ignore_ascii_case(p))
                    });
                    // Mentions are links to the username; the JSON export keeps them as text.
                    if absolute && !ElementRef::wrap(node).is_some_and(shows_mention) {
                        tb.push_link(href);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Whether a link's shown text starts with `@` (looked for in its first 64 nodes, so a
/// deeply nested link costs no more than a flat one).
fn shows_mention(link: ElementRef<'_>) -> bool {
    link.descendants()
        .take(64)
        .filter_map(|n| n.value().as_text())
        .flat_map(|t| t.chars())
        .find(|c| !c.is_whitespace())
        == Some('@')
}
