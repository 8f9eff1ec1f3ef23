//! Reducing a decoded page to the facts a defacement check needs.
//!
//! A [`Fingerprint`] holds the title, the text in blocks (one per block-level
//! element, with a structural path), every link, script, frame and redirect,
//! and for each piece of text or link whether it is hidden from a visitor.
//! Hidden content is kept, marked `hidden`, because hidden links and text
//! (暗链) are the usual way SEO spam is planted on a government site.
//!
//! What counts as hidden: the `hidden` attribute; an inline style or a rule
//! in one of the page's own `<style>` blocks (any selector the `scraper`
//! crate can match) with `display:none`, `visibility:hidden`, `font-size`
//! of 0 or 1px, `opacity:0`, `height`/`width` of 0 or 1px with
//! `overflow:hidden`, `position:absolute|fixed` with `left`/`top` at or
//! below -500px, or `text-indent` at or below -500px; a `<marquee>` 5px or
//! smaller. Meta `description` and `keywords` are kept as hidden blocks.
//! Inline scripts are scanned for string-literal redirects
//! (`location.href = "..."`, `location.replace("...")`, ...) and for
//! `document.write("...")` markup, which is parsed and fingerprinted as if
//! it were in the page at the script's place (best effort: only string
//! literals are seen, concatenated).
//!
//! It deliberately does not fetch anything (external style sheets and
//! scripts are not seen), does not run JavaScript, does not know colours
//! (white-on-white text is not detected), and does not judge: comparing with
//! a baseline is [`crate::compare`](mod@crate::compare)'s job.

use std::fmt::Write as _;

use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::decode::DecodedBody;

/// How deep `document.write` output is followed: markup written by a script
/// is fingerprinted, markup written by a script inside that is not.
const MAX_WRITE_DEPTH: usize = 1;

/// An offset at or below this many pixels hides an element off screen.
const FAR_OFFSET_PX: f64 = -500.0;

/// What a page consists of, as far as defacement detection is concerned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The `<title>` text, whitespace collapsed.
    pub title: String,
    /// Text blocks in document order; see [`TextBlock`].
    pub blocks: Vec<TextBlock>,
    /// Every `<a href>` and `<area href>` except `javascript:` and
    /// same-page `#` links.
    pub links: Vec<Link>,
    /// Every `<script>`, external or inline.
    pub scripts: Vec<Script>,
    /// Every `<iframe src>` and `<frame src>`.
    pub iframes: Vec<Frame>,
    /// Meta-refresh and script redirects found in the page.
    pub redirects: Vec<Redirect>,
    /// The encoding the body was decoded with (see [`DecodedBody::encoding`]).
    pub encoding: String,
    /// True when the body was binary, in which case everything else is empty.
    pub binary: bool,
}

/// The text one element contributes in its own right: a block-level element's
/// text including its inline children but not its block-level children, or
/// an element that is hidden inside a visible one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBlock {
    /// Structural path, e.g. `html>body>div#main>ul.news>li[3]`: tag name,
    /// `#id`, `.class` for each class, and `[n]` when the element is the n-th
    /// (n ≥ 2) among its parent's children with the same tag, id and classes
    /// (never for an element with an id). Markup written by a script appears
    /// under `<script path>>document.write>`; meta description and keywords
    /// as `html>head>meta[name=keywords]`.
    pub path: String,
    /// The text, whitespace collapsed, never empty.
    pub text: String,
    /// True when a visitor cannot see it.
    pub hidden: bool,
}

/// A link on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The target, made absolute against the page URL (and `<base href>`)
    /// when possible.
    pub href: String,
    /// The target's host, lowercase, when it has one.
    pub host: Option<String>,
    /// The link text (or an image's `alt`, or the `title` attribute).
    pub text: String,
    /// True when a visitor cannot see the link.
    pub hidden: bool,
}

/// A script on the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Script {
    /// `<script src>`.
    Src {
        /// The source URL, absolute when resolvable.
        url: String,
        /// The source's host, lowercase.
        host: Option<String>,
    },
    /// An inline script.
    Inline {
        /// Hex SHA-256 of the trimmed script text after every run of ASCII
        /// digits is replaced by a single `0`, so that a timestamp or counter
        /// written into a script does not make it a new script.
        sha256: String,
    },
}

/// An `<iframe>` or `<frame>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The frame's source, absolute when resolvable.
    pub src: String,
    /// The source's host, lowercase.
    pub host: Option<String>,
    /// True when hidden, including frames 5px or smaller.
    pub hidden: bool,
}

/// How a redirect is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectKind {
    /// `<meta http-equiv="refresh" content="0;url=...">`.
    MetaRefresh,
    /// A script assigning a string literal to `location` (or calling
    /// `location.replace`/`assign`).
    Script,
}

/// A redirect found in the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// How the redirect is made.
    pub kind: RedirectKind,
    /// Where it goes, absolute when resolvable.
    pub target: String,
    /// The target's host, lowercase.
    pub host: Option<String>,
}

/// Fingerprints a decoded page fetched from `page_url`.
///
/// `volatile_selectors` are CSS selectors from the plan; matching elements
/// and their subtrees are left out of the fingerprint entirely. Selectors
/// that do not parse are ignored here (the plan validator reports them).
pub fn fingerprint(
    decoded: &DecodedBody,
    page_url: &Url,
    volatile_selectors: &[String],
) -> Fingerprint {
    let mut fingerprint = Fingerprint {
        title: String::new(),
        blocks: Vec::new(),
        links: Vec::new(),
        scripts: Vec::new(),
        iframes: Vec::new(),
        redirects: Vec::new(),
        encoding: decoded.encoding.to_string(),
        binary: decoded.binary,
    };
    if decoded.binary {
        return fingerprint;
    }

    let document = Html::parse_document(&decoded.text);
    let base_url = base_url(&document, page_url);
    let volatile: Vec<Selector> = volatile_selectors
        .iter()
        .filter_map(|selector| Selector::parse(selector).ok())
        .collect();
    let style_rules: Vec<String> = style_texts(&document)
        .iter()
        .flat_map(|css| hiding_selectors(css))
        .collect();
    let mut walker = Walker {
        base_url,
        volatile,
        hiding: parse_selectors(&style_rules),
        style_rules,
        blocks: Vec::new(),
        output: &mut fingerprint,
        stack: Vec::new(),
        path: String::new(),
        depth: 0,
    };
    walker.walk(document.root_element(), false, false);
    let blocks = std::mem::take(&mut walker.blocks);
    fingerprint.title = title(&document);
    fingerprint.blocks = blocks
        .into_iter()
        .filter_map(|block| {
            let text = collapse_whitespace(&block.text);
            (!text.is_empty()).then_some(TextBlock {
                path: block.path.unwrap_or_default(),
                text,
                hidden: block.hidden,
            })
        })
        .collect();
    fingerprint
}

/// A CSS selector that cannot be used as a volatile selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CSS selector {selector:?}: {message}")]
pub struct SelectorError {
    /// The selector as given.
    pub selector: String,
    /// What the selector parser said.
    pub message: String,
}

/// Checks that `selector` parses the way [`fingerprint`] will parse it, so
/// that the plan validator can report a bad volatile selector with its path
/// instead of it being silently ignored.
pub fn check_selector(selector: &str) -> Result<(), SelectorError> {
    Selector::parse(selector)
        .map(|_| ())
        .map_err(|error| SelectorError {
            selector: selector.to_string(),
            message: error.to_string(),
        })
}

/// Collapses every run of Unicode whitespace (including `&nbsp;` and the
/// ideographic space) to one ASCII space and trims the ends.
pub fn collapse_whitespace(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    for word in text
        .split(char::is_whitespace)
        .filter(|word| !word.is_empty())
    {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    collapsed
}

/// A block being filled while walking.
struct PendingBlock {
    /// The path, copied out of `Walker::path` only when the block gets text:
    /// deeply nested empty blocks must not cost a copy of their long paths.
    path: Option<String>,
    /// Length of the block element's path in `Walker::path` while it is open.
    path_length: usize,
    text: String,
    hidden: bool,
}

/// The walk state of one open element.
struct Context {
    /// Length of this element's path in `Walker::path`.
    path_length: usize,
    hidden: bool,
    /// Index into `Walker::blocks` that this element's text goes to.
    block: Option<usize>,
    /// Text under this element is not visible text (inside `<head>`).
    textless: bool,
}

struct Walker<'a> {
    base_url: Url,
    volatile: Vec<Selector>,
    /// Selectors of the page's own style rules that hide elements.
    hiding: Vec<Selector>,
    /// The same rules as text, so that `document.write` output can add its own.
    style_rules: Vec<String>,
    blocks: Vec<PendingBlock>,
    output: &'a mut Fingerprint,
    stack: Vec<Context>,
    /// The path of the innermost open element; every open element's path is
    /// a prefix of it.
    path: String,
    /// How many `document.write` levels deep this walk is.
    depth: usize,
}

impl Walker<'_> {
    /// Walks the tree under `root` iteratively (deeply nested markup must not
    /// overflow the stack). When `is_fragment` is true, `root` is the
    /// synthetic `<html>` of a parsed fragment and adds no path segment.
    /// Paths continue from the current contents of `self.path`.
    fn walk(&mut self, root: ElementRef<'_>, hidden: bool, is_fragment: bool) {
        let base_depth = self.stack.len();
        let base_path_length = self.path.len();
        let root_node = *root;
        let mut node = root_node;
        self.stack.push(Context {
            path_length: base_path_length,
            hidden,
            block: None,
            textless: false,
        });
        let mut descend = is_fragment || self.enter(root);
        loop {
            if descend && let Some(child) = node.first_child() {
                node = child;
                descend = match node.value() {
                    Node::Element(_) => {
                        ElementRef::wrap(node).is_some_and(|element| self.enter(element))
                    }
                    Node::Text(text) => {
                        self.append_text(text);
                        false
                    }
                    _ => false,
                };
                continue;
            }
            // Leave `node` and move on to its next sibling or climb.
            loop {
                if node.value().is_element() {
                    self.stack.pop();
                    let length = self
                        .stack
                        .last()
                        .map_or(base_path_length, |context| context.path_length);
                    self.path.truncate(length);
                }
                if node == root_node {
                    self.stack.truncate(base_depth);
                    self.path.truncate(base_path_length);
                    return;
                }
                if let Some(sibling) = node.next_sibling() {
                    node = sibling;
                    descend = match node.value() {
                        Node::Element(_) => {
                            ElementRef::wrap(node).is_some_and(|element| self.enter(element))
                        }
                        Node::Text(text) => {
                            self.append_text(text);
                            false
                        }
                        _ => false,
                    };
                    break;
                }
                match node.parent() {
                    Some(parent) => node = parent,
                    None => {
                        self.stack.truncate(base_depth);
                        self.path.truncate(base_path_length);
                        return;
                    }
                }
            }
        }
    }

    fn append_text(&mut self, text: &str) {
        if let Some(context) = self.stack.last()
            && !context.textless
            && let Some(index) = context.block
        {
            let block = &mut self.blocks[index];
            if block.path.is_none() {
                block.path = Some(self.path[..block.path_length].to_string());
            }
            block.text.push_str(text);
        }
    }

    /// Handles an element's start; pushes its context and returns whether
    /// to walk its children.
    fn enter(&mut self, element: ElementRef<'_>) -> bool {
        let tag = element.value().name().to_ascii_lowercase();
        let (parent_hidden, parent_block, parent_textless) = match self.stack.last() {
            Some(parent) => (parent.hidden, parent.block, parent.textless),
            None => (false, None, false),
        };
        if !self.path.is_empty() {
            self.path.push('>');
        }
        push_segment(&mut self.path, element, &tag);
        let path_length = self.path.len();

        if self
            .volatile
            .iter()
            .any(|selector| selector.matches(&element))
        {
            self.stack.push(Context {
                path_length,
                hidden: parent_hidden,
                block: None,
                textless: true,
            });
            return false;
        }

        let hidden = parent_hidden || self.hides(element, &tag);
        let textless = parent_textless || tag == "head";
        let mut block = parent_block;
        if !textless && (is_block_level(&tag) || (hidden && !parent_hidden)) {
            self.blocks.push(PendingBlock {
                path: None,
                path_length,
                text: String::new(),
                hidden,
            });
            block = Some(self.blocks.len() - 1);
        }

        let mut descend = true;
        match tag.as_str() {
            "script" => {
                self.script(element, hidden);
                descend = false;
            }
            "style" | "noscript" | "template" | "title" | "object" | "textarea" => descend = false,
            "iframe" | "frame" => {
                self.frame(element, hidden);
                descend = false;
            }
            "meta" => self.meta(element),
            "a" | "area" => self.link(element, hidden),
            "br" => {
                if !textless && let Some(index) = block {
                    // A space alone never makes a block non-empty, so the
                    // path need not be copied here.
                    self.blocks[index].text.push(' ');
                }
            }
            _ => {}
        }
        self.path.truncate(path_length);
        self.stack.push(Context {
            path_length,
            hidden,
            block,
            textless,
        });
        descend
    }

    /// True when the element itself (not counting ancestors) is hidden.
    fn hides(&self, element: ElementRef<'_>, tag: &str) -> bool {
        let value = element.value();
        if value.attr("hidden").is_some() {
            return true;
        }
        if value.attr("style").is_some_and(style_hides) {
            return true;
        }
        if tag == "marquee" && is_tiny(element) {
            return true;
        }
        self.hiding
            .iter()
            .any(|selector| selector.matches(&element))
    }

    fn link(&mut self, element: ElementRef<'_>, hidden: bool) {
        let Some(href) = element.value().attr("href").map(str::trim) else {
            return;
        };
        let is_javascript = href
            .get(..11)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("javascript:"));
        if href.is_empty() || href.starts_with('#') || is_javascript {
            return;
        }
        let (href, host) = resolve(&self.base_url, href);
        let mut text = collapse_whitespace(&element.text().collect::<String>());
        if text.is_empty() {
            text = element
                .descendent_elements()
                .find_map(|child| child.value().attr("alt"))
                .or_else(|| element.value().attr("title"))
                .map(collapse_whitespace)
                .unwrap_or_default();
        }
        self.output.links.push(Link {
            href,
            host,
            text,
            hidden,
        });
    }

    fn frame(&mut self, element: ElementRef<'_>, hidden: bool) {
        let Some(src) = element.value().attr("src").map(str::trim) else {
            return;
        };
        if src.is_empty() || src.eq_ignore_ascii_case("about:blank") {
            return;
        }
        let (src, host) = resolve(&self.base_url, src);
        let hidden = hidden || is_tiny(element);
        self.output.iframes.push(Frame { src, host, hidden });
    }

    fn meta(&mut self, element: ElementRef<'_>) {
        let value = element.value();
        let content = value.attr("content").unwrap_or("");
        if value
            .attr("http-equiv")
            .is_some_and(|equiv| equiv.trim().eq_ignore_ascii_case("refresh"))
        {
            if let Some(target) = refresh_target(content) {
                let (target, host) = resolve(&self.base_url, &target);
                self.output.redirects.push(Redirect {
                    kind: RedirectKind::MetaRefresh,
                    target,
                    host,
                });
            }
            return;
        }
        let name = value.attr("name").unwrap_or("").trim().to_ascii_lowercase();
        if matches!(name.as_str(), "description" | "keywords") && !content.trim().is_empty() {
            // Spam often rewrites these for search engines only; they are
            // not visible, so they are kept as hidden text.
            let parent = self.path.rsplit_once('>').map_or("", |(parent, _)| parent);
            self.blocks.push(PendingBlock {
                path: Some(format!("{parent}>meta[name={name}]")),
                path_length: 0,
                text: content.to_string(),
                hidden: true,
            });
        }
    }

    fn script(&mut self, element: ElementRef<'_>, hidden: bool) {
        if let Some(src) = element
            .value()
            .attr("src")
            .map(str::trim)
            .filter(|src| !src.is_empty())
        {
            let (url, host) = resolve(&self.base_url, src);
            self.output.scripts.push(Script::Src { url, host });
            return;
        }
        let text: String = element.text().collect();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return;
        }
        self.output.scripts.push(Script::Inline {
            sha256: inline_script_hash(trimmed),
        });
        let is_javascript = element.value().attr("type").is_none_or(|kind| {
            let kind = kind.trim().to_ascii_lowercase();
            kind.is_empty()
                || kind == "module"
                || kind.contains("javascript")
                || kind.contains("ecmascript")
        });
        if !is_javascript {
            return;
        }
        for target in script_redirect_targets(trimmed) {
            let (target, host) = resolve(&self.base_url, &target);
            self.output.redirects.push(Redirect {
                kind: RedirectKind::Script,
                target,
                host,
            });
        }
        if self.depth >= MAX_WRITE_DEPTH {
            return;
        }
        let written = document_write_markup(trimmed);
        if written.trim().is_empty() {
            return;
        }
        let fragment = Html::parse_fragment(&written);
        let mut rules = self.style_rules.clone();
        rules.extend(
            style_texts(&fragment)
                .iter()
                .flat_map(|css| hiding_selectors(css)),
        );
        let saved_hiding = std::mem::replace(&mut self.hiding, parse_selectors(&rules));
        self.depth += 1;
        self.path.push_str(">document.write");
        self.walk(fragment.root_element(), hidden, true);
        self.depth -= 1;
        self.hiding = saved_hiding;
    }
}

/// Appends `tag#id.class1.class2[n]` for `element`. Classes are in document
/// order. `[n]` counts earlier siblings with the same tag, id and classes,
/// and is left out for an element with an id (ids are meant to be unique),
/// so that inserting an unrelated sibling does not rename the element.
fn push_segment(path: &mut String, element: ElementRef<'_>, tag: &str) {
    path.push_str(tag);
    let value = element.value();
    let id = value.id().map(str::trim).filter(|id| !id.is_empty());
    if let Some(id) = id {
        path.push('#');
        path.push_str(id);
    }
    for class in value.attr("class").unwrap_or("").split_whitespace() {
        path.push('.');
        path.push_str(class);
    }
    if id.is_some() {
        return;
    }
    let signature = |other: &scraper::node::Element| {
        other.name().eq_ignore_ascii_case(tag)
            && other.id().is_none_or(|id| id.trim().is_empty())
            && other
                .attr("class")
                .unwrap_or("")
                .split_whitespace()
                .eq(value.attr("class").unwrap_or("").split_whitespace())
    };
    let index = 1 + element
        .prev_siblings()
        .filter(|sibling| sibling.value().as_element().is_some_and(signature))
        .count();
    if index > 1 {
        let _ = write!(path, "[{index}]");
    }
}

fn is_block_level(tag: &str) -> bool {
    matches!(
        tag,
        "html"
            | "body"
            | "address"
            | "article"
            | "aside"
            | "blockquote"
            | "center"
            | "caption"
            | "dd"
            | "details"
            | "dialog"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "header"
            | "hgroup"
            | "hr"
            | "legend"
            | "li"
            | "main"
            | "marquee"
            | "menu"
            | "nav"
            | "ol"
            | "p"
            | "pre"
            | "section"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "tfoot"
            | "th"
            | "thead"
            | "tr"
            | "ul"
    )
}

/// True when the element's `width` or `height` (attribute or inline style)
/// is 5px or less.
fn is_tiny(element: ElementRef<'_>) -> bool {
    let value = element.value();
    let attribute_tiny = ["width", "height"]
        .iter()
        .filter_map(|name| value.attr(name))
        .filter_map(parse_length_px)
        .any(|pixels| pixels <= 5.0);
    let style_tiny = value.attr("style").is_some_and(|style| {
        declarations(style)
            .iter()
            .filter(|(property, _)| property == "width" || property == "height")
            .filter_map(|(_, value)| parse_length_px(value))
            .any(|pixels| pixels <= 5.0)
    });
    attribute_tiny || style_tiny
}

/// The `<base href>` URL if the page has one, else the page URL.
fn base_url(document: &Html, page_url: &Url) -> Url {
    let Ok(selector) = Selector::parse("base[href]") else {
        return page_url.clone();
    };
    document
        .select(&selector)
        .next()
        .and_then(|base| base.value().attr("href"))
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

fn title(document: &Html) -> String {
    let Ok(selector) = Selector::parse("title") else {
        return String::new();
    };
    document
        .select(&selector)
        .next()
        .map(|title| collapse_whitespace(&title.text().collect::<String>()))
        .unwrap_or_default()
}

fn style_texts(document: &Html) -> Vec<String> {
    let Ok(selector) = Selector::parse("style") else {
        return Vec::new();
    };
    document
        .select(&selector)
        .map(|style| style.text().collect::<String>())
        .collect()
}

fn parse_selectors(selectors: &[String]) -> Vec<Selector> {
    selectors
        .iter()
        .filter_map(|selector| Selector::parse(selector).ok())
        .collect()
}

/// Resolves `reference` against `base`: (absolute URL or the reference as
/// given, lowercase host without a trailing dot).
pub(crate) fn resolve(base: &Url, reference: &str) -> (String, Option<String>) {
    match base.join(reference) {
        Ok(url) => {
            let host = url
                .host_str()
                .map(|host| host.trim_end_matches('.').to_ascii_lowercase())
                .filter(|host| !host.is_empty());
            (url.to_string(), host)
        }
        Err(_) => (reference.to_string(), None),
    }
}

/// See [`Script::Inline`].
fn inline_script_hash(trimmed: &str) -> String {
    let mut normalized = String::with_capacity(trimmed.len());
    let mut in_digits = false;
    for character in trimmed.chars() {
        if character.is_ascii_digit() {
            if !in_digits {
                normalized.push('0');
            }
            in_digits = true;
        } else {
            normalized.push(character);
            in_digits = false;
        }
    }
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

/// The URL of a meta refresh `content` value such as `0;url='http://x/'`.
/// A refresh without a URL (a page reloading itself) gives `None`.
fn refresh_target(content: &str) -> Option<String> {
    let (_, rest) = content.split_once([';', ','])?;
    let rest = rest.trim_start();
    let rest = if rest
        .get(..3)
        .is_some_and(|word| word.eq_ignore_ascii_case("url"))
    {
        let after = rest[3..].trim_start();
        after.strip_prefix('=').map_or(rest, str::trim_start)
    } else {
        rest
    };
    let target = rest.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    (!target.is_empty()).then(|| target.to_string())
}

/// Selectors of the style rules in `css` whose declarations hide elements.
/// Handles comments, `<!-- -->` wrappers and nested `@media`/`@supports`;
/// other at-rules are skipped.
fn hiding_selectors(css: &str) -> Vec<String> {
    let mut without_comments = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        without_comments.push_str(&rest[..start]);
        rest = rest[start + 2..]
            .find("*/")
            .map_or("", |end| &rest[start + 2 + end + 2..]);
    }
    without_comments.push_str(rest);
    let cleaned = without_comments.replace("<!--", " ").replace("-->", " ");
    let mut selectors = Vec::new();
    collect_hiding_rules(&cleaned, &mut selectors, 0);
    selectors
}

fn collect_hiding_rules(css: &str, selectors: &mut Vec<String>, nesting: usize) {
    let mut rest = css;
    while let Some(open) = rest.find('{') {
        let prelude = rest[..open].rsplit(';').next().unwrap_or("").trim();
        let mut depth = 1usize;
        let mut close = None;
        for (offset, character) in rest[open + 1..].char_indices() {
            match character {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + 1 + offset);
                        break;
                    }
                }
                _ => {}
            }
        }
        let body_end = close.unwrap_or(rest.len());
        let body = &rest[open + 1..body_end];
        if let Some(at_rule) = prelude.strip_prefix('@') {
            let name = at_rule
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if (name == "media" || name == "supports") && nesting < 4 {
                collect_hiding_rules(body, selectors, nesting + 1);
            }
        } else if style_hides(body) {
            selectors.extend(
                prelude
                    .split(',')
                    .map(str::trim)
                    .filter(|selector| !selector.is_empty())
                    .map(str::to_string),
            );
        }
        rest = close.map_or("", |close| &rest[close + 1..]);
    }
}

/// `property: value` pairs of a declaration list, lowercase, without
/// `!important`.
fn declarations(style: &str) -> Vec<(String, String)> {
    style
        .split(';')
        .filter_map(|declaration| {
            let (property, value) = declaration.split_once(':')?;
            let value = value.trim().to_ascii_lowercase();
            let value = value.trim_end_matches("!important").trim().to_string();
            Some((property.trim().to_ascii_lowercase(), value))
        })
        .collect()
}

/// True when a declaration list hides the element it applies to.
pub(crate) fn style_hides(style: &str) -> bool {
    let declarations = declarations(style);
    let value = |name: &str| {
        declarations
            .iter()
            .rev()
            .find(|(property, _)| property == name)
            .map(|(_, value)| value.as_str())
    };
    let length = |name: &str| value(name).and_then(parse_length_px);
    if value("display") == Some("none") {
        return true;
    }
    if matches!(value("visibility"), Some("hidden" | "collapse")) {
        return true;
    }
    if length("font-size").is_some_and(|pixels| pixels <= 1.0) {
        return true;
    }
    if value("opacity")
        .and_then(|opacity| opacity.parse::<f64>().ok())
        .is_some_and(|opacity| opacity <= 0.01)
    {
        return true;
    }
    let overflow_hidden = value("overflow").is_some_and(|overflow| overflow.starts_with("hidden"));
    if overflow_hidden
        && (length("height").is_some_and(|px| px <= 1.0)
            || length("width").is_some_and(|px| px <= 1.0))
    {
        return true;
    }
    let positioned = matches!(value("position"), Some("absolute" | "fixed"));
    if positioned
        && (length("left").is_some_and(|px| px <= FAR_OFFSET_PX)
            || length("top").is_some_and(|px| px <= FAR_OFFSET_PX))
    {
        return true;
    }
    length("text-indent").is_some_and(|px| px <= FAR_OFFSET_PX)
}

/// A CSS length or HTML dimension in pixels: `-9999px`, `0`, `1`, `-60em`
/// (16px per em). Percentages and unknown units give `None`.
fn parse_length_px(value: &str) -> Option<f64> {
    let value = value.trim().to_ascii_lowercase();
    let number_end = value
        .char_indices()
        .find(|(index, character)| {
            !(character.is_ascii_digit()
                || *character == '.'
                || (*index == 0 && matches!(character, '-' | '+')))
        })
        .map_or(value.len(), |(index, _)| index);
    let number: f64 = value[..number_end].parse().ok()?;
    let factor = match value[number_end..].trim() {
        "" | "px" => 1.0,
        "em" | "rem" => 16.0,
        "pt" => 4.0 / 3.0,
        _ => return None,
    };
    Some(number * factor)
}

/// Redirect targets a script assigns to `location` as string literals:
/// `location = "..."`, `location.href = "..."`, `window.location...`,
/// `top.location...`, `document.location...`, `location.replace("...")`,
/// `location.assign("...")`. Literals joined with `+` are concatenated.
fn script_redirect_targets(script: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let bytes = script.as_bytes();
    let mut search_from = 0;
    while let Some(found) = script[search_from..].find("location") {
        let start = search_from + found;
        search_from = start + "location".len();
        if start > 0 {
            let before = bytes[start - 1];
            if before.is_ascii_alphanumeric() || before == b'_' || before == b'$' {
                continue;
            }
            let declared = script[..start].trim_end();
            if before != b'.'
                && ["var", "let", "const"]
                    .iter()
                    .any(|keyword| declared.ends_with(keyword))
            {
                continue;
            }
        }
        let mut rest = script[search_from..].trim_start();
        if let Some(after) = rest.strip_prefix(".href") {
            rest = after.trim_start();
        }
        let literal = if let Some(after) = rest.strip_prefix('=') {
            if after.starts_with('=') {
                continue;
            }
            after.trim_start()
        } else if let Some(after) = rest
            .strip_prefix(".replace")
            .or_else(|| rest.strip_prefix(".assign"))
        {
            match after.trim_start().strip_prefix('(') {
                Some(after) => after.trim_start(),
                None => continue,
            }
        } else {
            continue;
        };
        if let Some(target) = concatenated_literals(literal)
            && !target.trim().is_empty()
        {
            targets.push(target.trim().to_string());
        }
    }
    targets
}

/// The string literals at the start of `code` joined by `+`, concatenated.
fn concatenated_literals(code: &str) -> Option<String> {
    let (mut value, mut rest) = string_literal(code)?;
    while let Some(after) = rest.trim_start().strip_prefix('+') {
        let Some((next, after_next)) = string_literal(after.trim_start()) else {
            break;
        };
        value.push_str(&next);
        rest = after_next;
    }
    Some(value)
}

/// Reads one JavaScript string literal at the start of `code`, unescaping
/// `\xNN`, `\uNNNN` and simple escapes. Returns the value and the rest.
fn string_literal(code: &str) -> Option<(String, &str)> {
    let mut characters = code.char_indices();
    let (_, quote) = characters.next()?;
    if !matches!(quote, '"' | '\'' | '`') {
        return None;
    }
    let mut value = String::new();
    while let Some((index, character)) = characters.next() {
        if character == quote {
            return Some((value, &code[index + character.len_utf8()..]));
        }
        if character != '\\' {
            value.push(character);
            continue;
        }
        let (_, escaped) = characters.next()?;
        match escaped {
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            'x' | 'u' => {
                let digits = if escaped == 'x' { 2 } else { 4 };
                let hex: String = characters.clone().take(digits).map(|(_, c)| c).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == digits => {
                        value.push(decoded);
                        for _ in 0..digits {
                            characters.next();
                        }
                    }
                    _ => value.push(escaped),
                }
            }
            other => value.push(other),
        }
    }
    None
}

/// The markup a script writes with `document.write(...)`/`writeln(...)`:
/// the string literals inside each call, concatenated, percent-decoded when
/// they look percent-encoded (`unescape("%3Ca ...")`).
fn document_write_markup(script: &str) -> String {
    let mut markup = String::new();
    let mut search_from = 0;
    while let Some(found) = script[search_from..].find("document.write") {
        let mut rest = &script[search_from + found + "document.write".len()..];
        rest = rest.strip_prefix("ln").unwrap_or(rest).trim_start();
        search_from = script.len() - rest.len();
        let Some(mut rest) = rest.strip_prefix('(') else {
            continue;
        };
        let mut depth = 1usize;
        let mut call = String::new();
        while let Some(character) = rest.chars().next() {
            if matches!(character, '"' | '\'' | '`') {
                match string_literal(rest) {
                    Some((value, after)) => {
                        call.push_str(&value);
                        rest = after;
                        continue;
                    }
                    None => break,
                }
            }
            rest = &rest[character.len_utf8()..];
            match character {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
        search_from = script.len() - rest.len();
        if call.to_ascii_lowercase().contains("%3c") {
            call = percent_decode(&call);
        }
        markup.push_str(&call);
    }
    markup
}

/// Decodes `%XX` and `%uXXXX` escapes (JavaScript `unescape`).
fn percent_decode(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find('%') {
        bytes.extend_from_slice(&rest.as_bytes()[..position]);
        let after = &rest[position + 1..];
        let unicode = after
            .strip_prefix(['u', 'U'])
            .and_then(|hex| hex.get(..4))
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32);
        if let Some(character) = unicode {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            rest = &after[5..];
        } else if let Some(byte) = after
            .get(..2)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            bytes.push(byte);
            rest = &after[2..];
        } else {
            bytes.push(b'%');
            rest = after;
        }
    }
    bytes.extend_from_slice(rest.as_bytes());
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_url() -> Url {
        Url::parse("http://portal.example.gov.test/index.html").expect("valid test URL")
    }

    fn fingerprint_of(html: &str) -> Fingerprint {
        fingerprint_with(html, &[])
    }

    fn fingerprint_with(html: &str, volatile: &[&str]) -> Fingerprint {
        let decoded = DecodedBody {
            text: html.to_string(),
            encoding: "UTF-8",
            had_errors: false,
            binary: false,
        };
        let volatile: Vec<String> = volatile
            .iter()
            .map(|selector| selector.to_string())
            .collect();
        fingerprint(&decoded, &page_url(), &volatile)
    }

    /// Blocks as (path, text, hidden).
    fn check_blocks(html: &str, expected: &[(&str, &str, bool)]) {
        let fingerprint = fingerprint_of(html);
        let actual: Vec<(&str, &str, bool)> = fingerprint
            .blocks
            .iter()
            .map(|block| (block.path.as_str(), block.text.as_str(), block.hidden))
            .collect();
        assert_eq!(actual, expected, "{html}");
    }

    /// Links as (href, host, text, hidden).
    fn check_links(html: &str, expected: &[(&str, Option<&str>, &str, bool)]) {
        let fingerprint = fingerprint_of(html);
        let actual: Vec<(&str, Option<&str>, &str, bool)> = fingerprint
            .links
            .iter()
            .map(|link| {
                (
                    link.href.as_str(),
                    link.host.as_deref(),
                    link.text.as_str(),
                    link.hidden,
                )
            })
            .collect();
        assert_eq!(actual, expected, "{html}");
    }

    /// Redirects as (kind, target).
    fn check_redirects(html: &str, expected: &[(RedirectKind, &str)]) {
        let fingerprint = fingerprint_of(html);
        let actual: Vec<(RedirectKind, &str)> = fingerprint
            .redirects
            .iter()
            .map(|redirect| (redirect.kind, redirect.target.as_str()))
            .collect();
        assert_eq!(actual, expected, "{html}");
    }

    #[test]
    fn blocks_paths_and_whitespace() {
        check_blocks(
            "<html><head><title>首页</title></head><body><div id=main><ul class='news list'>\
             <li><a href=/a.html>财政  要闻</a>&nbsp;<span>2026-11-20</span></li>\
             <li>第二条</li><li>第三条<br>换行</li></ul><p>  </p></div></body></html>",
            &[
                (
                    "html>body>div#main>ul.news.list>li",
                    "财政 要闻 2026-11-20",
                    false,
                ),
                ("html>body>div#main>ul.news.list>li[2]", "第二条", false),
                (
                    "html>body>div#main>ul.news.list>li[3]",
                    "第三条 换行",
                    false,
                ),
            ],
        );
        check_blocks(
            "<body>开头<div>中间</div>结尾<script>var x='不可见';</script><style>p{}</style>\
             <noscript>请启用脚本</noscript><template><p>模板</p></template></body>",
            &[
                ("html>body", "开头结尾", false),
                ("html>body>div", "中间", false),
            ],
        );
        check_blocks(
            "<head><title>标题不是正文</title><meta name=keywords content='财政,预算'></head><body><p>正文</p></body>",
            &[
                ("html>head>meta[name=keywords]", "财政,预算", true),
                ("html>body>p", "正文", false),
            ],
        );
    }

    #[test]
    fn hidden_techniques() {
        let cases: &[&str] = &[
            "<div hidden>",
            "<div style='display:none'>",
            "<div style='DISPLAY: NONE !important'>",
            "<div style='visibility:hidden'>",
            "<div style='font-size:0'>",
            "<div style='font-size:0px;line-height:0'>",
            "<div style='height:0;overflow:hidden'>",
            "<div style='width:1px;height:1px;overflow:hidden'>",
            "<div style='position:absolute;left:-9999px;top:0'>",
            "<div style='position:fixed;top:-1000px'>",
            "<div style='text-indent:-9999px'>",
            "<div style='opacity:0'>",
            "<marquee height=1 width=1>",
            "<marquee style='height:2px'>",
            "<style>.yqlj{display:none}</style><div class=yqlj>",
            "<style>#links { position:absolute; left:-5000px }</style><div id=links>",
            "<style>/* x */ .a, .b{visibility:hidden}</style><div class=b>",
            "<style>@media screen { .m { display:none } }</style><div class=m>",
            "<style><!-- .old{display:none} --></style><div class=old>",
            "<style>#footer .spam{font-size:0}</style><div id=footer><div class=spam>",
        ];
        for opening in cases {
            let html = format!(
                "<body><p>正常</p>{opening}<a href='http://bet.test/'>隐藏链接</a></div></body>"
            );
            let fingerprint = fingerprint_of(&html);
            assert_eq!(fingerprint.links.len(), 1, "{opening}");
            assert!(fingerprint.links[0].hidden, "{opening}");
            let hidden_block = fingerprint
                .blocks
                .iter()
                .find(|block| block.text == "隐藏链接");
            assert!(
                hidden_block.is_some_and(|block| block.hidden),
                "{opening}: {:?}",
                fingerprint.blocks
            );
            assert!(
                fingerprint
                    .blocks
                    .iter()
                    .any(|block| block.text == "正常" && !block.hidden)
            );
        }
    }

    #[test]
    fn visible_look_alikes_are_not_hidden() {
        let cases: &[&str] = &[
            "<div style='display:block'>",
            "<div style='position:absolute;left:-20px'>",
            "<div style='height:0'>",
            "<div style='font-size:12px'>",
            "<div style='opacity:0.9'>",
            "<div style='left:-9999px'>",
            "<marquee height=30>",
            "<style>.other{display:none}</style><div class=yqlj>",
            "<style>#other .yqlj{display:none}</style><div class=yqlj>",
            "<style>.yqlj:hover{display:none}</style><div class=yqlj>",
        ];
        for opening in cases {
            let html = format!("<body>{opening}<a href='/a.html'>链接</a></div></body>");
            let fingerprint = fingerprint_of(&html);
            assert!(!fingerprint.links[0].hidden, "{opening}");
            assert!(
                fingerprint.blocks.iter().all(|block| !block.hidden),
                "{opening}"
            );
        }
    }

    #[test]
    fn hidden_inline_element_inside_visible_block_gets_its_own_block() {
        check_blocks(
            "<body><p>欢迎访问<span style='display:none'>澳门<b>赌场</b></span>本站</p></body>",
            &[
                ("html>body>p", "欢迎访问本站", false),
                ("html>body>p>span", "澳门赌场", true),
            ],
        );
    }

    #[test]
    fn links_are_resolved() {
        check_links(
            "<body><a href='/zwgk/'>政务公开</a><a href='HTTP://WWW.Example.GOV.test./x'><img alt='图片'></a>\
             <a href='#top'>顶部</a><a href='javascript:void(0)'>菜单</a><a href='mailto:a@example.gov.test'>信箱</a>\
             <area href='b.html' title='区域'><a>无链接</a></body>",
            &[
                (
                    "http://portal.example.gov.test/zwgk/",
                    Some("portal.example.gov.test"),
                    "政务公开",
                    false,
                ),
                (
                    "http://www.example.gov.test./x",
                    Some("www.example.gov.test"),
                    "图片",
                    false,
                ),
                ("mailto:a@example.gov.test", None, "信箱", false),
                (
                    "http://portal.example.gov.test/b.html",
                    Some("portal.example.gov.test"),
                    "区域",
                    false,
                ),
            ],
        );
        check_links(
            "<head><base href='http://cdn.example.gov.test/site/'></head><body><a href='a.html'>A</a></body>",
            &[(
                "http://cdn.example.gov.test/site/a.html",
                Some("cdn.example.gov.test"),
                "A",
                false,
            )],
        );
    }

    #[test]
    fn scripts_and_frames() {
        let fingerprint = fingerprint_of(
            "<head><script src='//js.stats-example.test/t.js'></script><script> var a = 1; </script>\
             <script></script></head><body><iframe src='http://ad.example.test/' width=0 height=0></iframe>\
             <iframe src='/map.html' width=600 height=400></iframe><iframe src='about:blank'></iframe></body>",
        );
        assert_eq!(
            fingerprint.scripts,
            vec![
                Script::Src {
                    url: "http://js.stats-example.test/t.js".to_string(),
                    host: Some("js.stats-example.test".to_string()),
                },
                Script::Inline {
                    sha256: inline_script_hash("var a = 1;"),
                },
            ]
        );
        let frames: Vec<(&str, bool)> = fingerprint
            .iframes
            .iter()
            .map(|frame| (frame.src.as_str(), frame.hidden))
            .collect();
        assert_eq!(
            frames,
            vec![
                ("http://ad.example.test/", true),
                ("http://portal.example.gov.test/map.html", false)
            ]
        );
    }

    #[test]
    fn inline_script_hash_ignores_digit_runs() {
        assert_eq!(
            inline_script_hash("var t = 1732600000;"),
            inline_script_hash("var t = 1732686400;")
        );
        assert_ne!(
            inline_script_hash("var t = 1;"),
            inline_script_hash("var u = 1;")
        );
    }

    #[test]
    fn redirects() {
        use RedirectKind::{MetaRefresh, Script};
        check_redirects(
            "<meta http-equiv='refresh' content='0;url=http://dc.test/'>",
            &[(MetaRefresh, "http://dc.test/")],
        );
        check_redirects(
            "<meta http-equiv=Refresh content=\"0; URL='http://dc.test/a'\">",
            &[(MetaRefresh, "http://dc.test/a")],
        );
        check_redirects("<meta http-equiv='refresh' content='300'>", &[]);
        check_redirects(
            "<body><meta http-equiv='refresh' content='5,/new/'></body>",
            &[(MetaRefresh, "http://portal.example.gov.test/new/")],
        );
        let scripts: &[(&str, &str)] = &[
            (
                "window.location.href = 'http://dc.test/1';",
                "http://dc.test/1",
            ),
            ("location.href=\"http://dc.test/2\"", "http://dc.test/2"),
            ("location.replace('http://dc.test/3')", "http://dc.test/3"),
            (
                "window.location = \"http://dc.test/4\";",
                "http://dc.test/4",
            ),
            ("top.location='http://dc.test/5'", "http://dc.test/5"),
            (
                "document.location.href = 'http://dc.test/6'",
                "http://dc.test/6",
            ),
            (
                "var s=document.referrer;if(s.indexOf('baidu')>0){self.location='http://'+'dc.test/7';}",
                "http://dc.test/7",
            ),
            (
                "location.assign(\"\\x68ttp://dc.test/8\")",
                "http://dc.test/8",
            ),
        ];
        for (script, target) in scripts {
            check_redirects(&format!("<script>{script}</script>"), &[(Script, target)]);
        }
        for script in [
            "if (location.href == 'http://x.test/') {}",
            "var location = 'Beijing';",
            "mylocation = 'http://x.test/'",
            "location.href = url;",
        ] {
            check_redirects(&format!("<script>{script}</script>"), &[]);
        }
        check_redirects(
            "<script type='text/template'>location.href='http://x.test/'</script>",
            &[],
        );
    }

    #[test]
    fn document_write_output_is_fingerprinted() {
        let fingerprint = fingerprint_of(
            "<body><div id=f><script>document.write('<div style=\"display:none\"><a href=\"http://bet.test/\">百家乐</a></div>');\
             document.writeln(unescape('%3Cscript src=\"http://js.bad.test/x.js\"%3E%3C/script%3E'));</script></div></body>",
        );
        assert_eq!(fingerprint.links.len(), 1);
        assert_eq!(fingerprint.links[0].href, "http://bet.test/");
        assert!(fingerprint.links[0].hidden);
        assert!(fingerprint.blocks.iter().any(|block| {
            block.text == "百家乐"
                && block.hidden
                && block
                    .path
                    .starts_with("html>body>div#f>script>document.write>")
        }));
        assert!(fingerprint.scripts.iter().any(
            |script| matches!(script, Script::Src { host: Some(host), .. } if host == "js.bad.test")
        ));
    }

    #[test]
    fn volatile_selectors_remove_subtrees() {
        let fingerprint = fingerprint_with(
            "<body><div id=counter>访问量：123<a href='http://stats.test/'>统计</a></div><p class=date>2026年11月26日</p><p>正文</p></body>",
            &["#counter", "p.date", "not a [valid selector"],
        );
        assert_eq!(fingerprint.blocks.len(), 1);
        assert_eq!(fingerprint.blocks[0].text, "正文");
        assert!(fingerprint.links.is_empty());
    }

    #[test]
    fn selectors_are_checked() {
        for (selector, valid) in [
            ("#counter", true),
            ("div.date > span", true),
            ("p:nth-child(2)", true),
            ("##counter", false),
            ("div >", false),
            ("", false),
        ] {
            assert_eq!(check_selector(selector).is_ok(), valid, "{selector}");
        }
    }

    #[test]
    fn deeply_nested_markup_does_not_overflow() {
        // The walk is iterative; a recursive one overflows the test thread's
        // stack well before this depth. (html5ever's parse time grows with
        // the square of the depth, so the depth is kept moderate.)
        let html = format!("{}深{}", "<div>".repeat(6_000), "</div>".repeat(6_000));
        let fingerprint = fingerprint_of(&html);
        assert_eq!(
            fingerprint.blocks.last().map(|block| block.text.as_str()),
            Some("深")
        );
    }

    #[test]
    fn binary_body_gives_an_empty_fingerprint() {
        let decoded = DecodedBody {
            text: String::new(),
            encoding: crate::decode::BINARY_ENCODING,
            had_errors: false,
            binary: true,
        };
        let fingerprint = fingerprint(&decoded, &page_url(), &[]);
        assert!(fingerprint.binary);
        assert!(fingerprint.blocks.is_empty());
    }

    #[test]
    fn css_lengths() {
        for (value, expected) in [
            ("0", Some(0.0)),
            ("-9999px", Some(-9999.0)),
            ("-60em", Some(-960.0)),
            ("1.5px", Some(1.5)),
            ("50%", None),
            ("auto", None),
        ] {
            assert_eq!(parse_length_px(value), expected, "{value}");
        }
    }
}
