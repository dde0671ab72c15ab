"""The token-stream walk of ``extract_article`` against a node-tree reference walk.

``extract_article`` walks mwparserfromhell's flat token stream. The reference below walks the node
tree that ``mwparserfromhell.parse`` builds from the same tokens, rule for rule; both must give the
same paragraphs, link spans, categories and disambiguation flag on every sample page, on the
generated pages of a larger sample, on hand-made nasty wikitext and on random mixes of it.
"""

from __future__ import annotations

import gc
import html
import random
import re

import mwparserfromhell
import pytest
from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Node,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.parser._tokenizer import CTokenizer
from mwparserfromhell.parser.errors import ParserError
from mwparserfromhell.parser.tokenizer import Tokenizer
from mwparserfromhell.wikicode import Wikicode

import transforms.wikitext as wikitext
from pipeline.sample import SAMPLE_LANGS, sample_pages
from transforms.languages import (
    DISAMBIGUATION_TEMPLATES,
    FOREIGN_MEDIA_NAMESPACES,
    IMAGE_OPTIONS,
    MEDIA_FILE_EXTENSIONS,
    link_trail_pattern,
)
from transforms.paragraphs import ParagraphBuilder
from transforms.titles import SiteInfo, parse_link_target, upper_first
from transforms.wikitext import (
    _DROPPED_TAGS,
    _MAGIC_WORD,
    _PARAGRAPH_BREAK_TAGS,
    _QUOTE_RUN,
    _SPACE_TAGS,
    ExtractedArticle,
    Link,
    Paragraph,
    extract_article,
    pre_strip,
    resolve_language_conversion,
)

# --- the reference: a walk over mwparserfromhell's node tree ----------------------------------


class _ParagraphBuilder:
    """Paragraph splitting and offsets as plainly as they can be written."""

    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self.raw = ""
        self.links: list[Link] = []
        self.is_lead = True
        self.pending_newlines = 0
        self.after_list_item = False

    def paragraph_break(self) -> None:
        if self.raw:
            paragraph = _reference_finalize(self.raw, self.links, self.is_lead)
            if paragraph is not None:
                self.paragraphs.append(paragraph)
        self.raw, self.links = "", []
        self.pending_newlines = 0
        self.after_list_item = False

    def heading(self) -> None:
        self.paragraph_break()
        self.is_lead = False

    def list_item(self) -> None:
        self.paragraph_break()
        self.after_list_item = True

    def newline(self) -> None:
        self.pending_newlines += 1

    def _settle_newlines(self) -> None:
        if self.pending_newlines >= 2 or (self.pending_newlines and self.after_list_item):
            self.paragraph_break()
        elif self.pending_newlines:
            self.pending_newlines = 0
            self.raw += " "

    def text(self, text: str) -> None:
        if text:
            self._settle_newlines()
            self.raw += text

    def start_link(self) -> int:
        self._settle_newlines()
        return len(self.raw)

    def end_link(self, start: int, target: str) -> None:
        if len(self.raw) > start:
            self.links.append(Link(start, len(self.raw), target))

    def finish(self) -> tuple[Paragraph, ...]:
        self.paragraph_break()
        return tuple(self.paragraphs)


def _reference_finalize(raw: str, links: list[Link], is_lead: bool) -> Paragraph | None:
    """Character by character: which characters of ``raw`` survive, and where links land."""
    text = "".join(" " if c.isspace() else c for c in raw)
    # Unconsumed link and template brackets are blanked first.
    text = re.sub(r"\[\[+|\]\]+|\{\{+|\}\}+", lambda m: " " * len(m.group(0)), text)
    keep = [True] * len(text)
    for i in range(1, len(text)):
        if text[i] == " " and text[i - 1] == " ":
            keep[i] = False  # the second and later spaces of a run
    for match in re.finditer(r"\s*[(（][\s,;:、，；]*[)）]", text):
        if not any(x.start < match.end() and match.start() < x.end for x in links):
            keep[match.start() : match.end()] = [False] * (match.end() - match.start())
    if text[:1] == " ":
        keep[0] = False
    if text[-1:] == " ":
        keep[-1] = False
    new_index = [0] * (len(text) + 1)
    for i, kept in enumerate(keep):
        new_index[i + 1] = new_index[i] + kept
    joined = "".join(c for c, kept in zip(text, keep, strict=True) if kept)
    out = joined.strip(" ")
    if not out:
        return None
    shift = len(joined) - len(joined.lstrip(" "))
    new_links = []
    for link in links:
        start = min(max(new_index[link.start] - shift, 0), len(out))
        end = min(max(new_index[link.end] - shift, 0), len(out))
        while start < end and out[start] == " ":
            start += 1
        while end > start and out[end - 1] == " ":
            end -= 1
        if end > start:
            new_links.append(Link(start, end, link.target))
    return Paragraph(out, is_lead, tuple(new_links))


def _ref_foreign_file(raw_title: str, node: Wikilink) -> bool:
    """A file link in another wiki's namespace names: a media file name or an image option."""
    prefix, _, rest = html.unescape(raw_title).strip().lstrip(":").partition(":")
    if " ".join(prefix.replace("_", " ").split()).casefold() not in FOREIGN_MEDIA_NAMESPACES:
        return False
    extension = rest.strip().rsplit(".", 1)[-1].lower() if "." in rest else ""
    if extension in MEDIA_FILE_EXTENSIONS:
        return True
    options = str(node.text).split("|") if node.text is not None else []
    return any(
        option.strip().casefold() in IMAGE_OPTIONS
        or re.fullmatch(r"\d*(?:x\d+)?\s*(?:px|пкс|بكسل|픽셀|像素)", option.strip().casefold())
        or re.match(r"(?:upright|alt|link|page|lang|class|thumbtime|start|end|hochkant|redresse|verticale|lien)\s*=",
                    option.strip().casefold())
        for option in options
    )  # fmt: skip


def _ref_template_name(template: Template) -> str:
    name = str(template.name).strip().replace("_", " ")
    name = re.sub(r"\s+", " ", name.split("<!--", 1)[0]).strip()
    if ":" in name and name.lower().startswith(("template:", "vorlage:", "modèle:")):
        name = name.split(":", 1)[1].strip()
    return upper_first(name)


def _ref_kept_template(template: Template, name: str) -> list[Wikicode | str] | None:
    lowered = name.lower()
    args = [p.value for p in template.params if not p.showkey]
    if lowered in ("lang", "lang2", "langx") and len(args) >= 2:
        return [args[1]]
    if lowered.startswith("lang-") and args:
        return [args[0]]
    if lowered == "nihongo" and args:
        parts: list[Wikicode | str] = [args[0]]
        extra = [a for a in args[1:3] if str(a).strip()]
        if extra:
            parts.append(" (")
            for i, value in enumerate(extra):
                if i:
                    parts.append(", ")
                parts.append(value)
            parts.append(")")
        return parts
    if lowered in ("nowrap", "nobr", "small", "smaller", "big", "larger", "resize", "ruby") and args:
        return [args[-1]] if lowered == "resize" else [args[0]]
    if lowered in ("transl", "transliteration") and args:
        return [args[-1]]
    if lowered in ("convert", "cvt") and args:
        parts = [args[0]]
        if len(args) > 1:
            parts += [" ", args[1]]
        return parts
    if lowered == "abbr" and args:
        return [args[0]]
    return None


class _NodeWalk:
    def __init__(self, site: SiteInfo) -> None:
        self.site = site
        self.trail = link_trail_pattern(site.lang)
        self.categories: list[str] = []
        self.is_disambiguation = False
        names = DISAMBIGUATION_TEMPLATES.get(site.lang, ()) + DISAMBIGUATION_TEMPLATES["en"]
        self.disambiguation_templates = frozenset(name.casefold() for name in names)

    def text(self, value: str, builder: _ParagraphBuilder, block: bool) -> None:
        if "__" in value:
            if "__DISAMBIG__" in value:
                self.is_disambiguation = True
            value = _MAGIC_WORD.sub("", value)
        if "''" in value:
            value = _QUOTE_RUN.sub("", value)
        if not block or "\n" not in value:
            builder.text(value)
            return
        for i, line in enumerate(value.split("\n")):
            if i:
                builder.newline()
            if line:
                builder.text(line)

    def walk(self, nodes: list[Node], builder: _ParagraphBuilder) -> None:
        skip_chars = 0
        for index, node in enumerate(nodes):
            if isinstance(node, Text):
                value = str(node.value)[skip_chars:]
                skip_chars = 0
                self.text(value, builder, True)
            elif isinstance(node, Wikilink):
                skip_chars = self.link(node, nodes, index, builder)
            elif isinstance(node, Heading):
                builder.heading()
            elif isinstance(node, Tag):
                self.tag(node, builder)
            elif isinstance(node, Template):
                name = _ref_template_name(node)
                if name.casefold() in self.disambiguation_templates:
                    self.is_disambiguation = True
                    continue
                for part in _ref_kept_template(node, name) or ():
                    if isinstance(part, str):
                        builder.text(part)
                    else:
                        self.walk(part.nodes, builder)
            elif isinstance(node, HTMLEntity):
                builder.text(node.normalize())
            elif isinstance(node, ExternalLink):
                if node.brackets and node.title is not None:
                    self.walk(node.title.nodes, builder)
            elif isinstance(node, Comment | Argument):
                continue

    def link(self, node: Wikilink, nodes: list[Node], index: int, builder: _ParagraphBuilder) -> int:
        raw_title = str(node.title)
        target = parse_link_target(raw_title, self.site)
        if target.kind not in ("namespace", "interlanguage") and _ref_foreign_file(raw_title, node):
            return 0
        if not target.leading_colon:
            if target.kind == "namespace" and target.namespace in (14, 6, -2):
                if target.namespace == 14:
                    self.categories.append(target.title)
                return 0
            if target.kind == "interlanguage":
                return 0
        start = builder.start_link()
        if node.text is not None:
            if str(node.text).strip():
                self.walk_inline(node.text.nodes, builder)
            else:
                builder.text(re.sub(r"\s*\([^)]*\)\s*$", "", html.unescape(raw_title).lstrip(":")))
        else:
            builder.text(html.unescape(raw_title).lstrip(":").strip())
        consumed = 0
        if self.trail is not None and index + 1 < len(nodes) and isinstance(nodes[index + 1], Text):
            match = self.trail.match(str(nodes[index + 1].value))
            if match:
                builder.text(match.group(0))
                consumed = match.end()
        if target.kind == "article":
            builder.end_link(start, target.title)
        return consumed

    def walk_inline(self, nodes: list[Node], builder: _ParagraphBuilder) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.text(str(node.value).replace("\n", " "), builder, False)
            elif isinstance(node, HTMLEntity):
                builder.text(node.normalize())
            elif isinstance(node, Wikilink):
                builder.text(str(node.text if node.text is not None else node.title))
            elif isinstance(node, Tag):
                if str(node.tag).strip().lower() not in _DROPPED_TAGS and node.contents is not None:
                    self.walk_inline(node.contents.nodes, builder)
            elif isinstance(node, Template):
                for part in _ref_kept_template(node, _ref_template_name(node)) or ():
                    if isinstance(part, str):
                        builder.text(part)
                    else:
                        self.walk_inline(part.nodes, builder)

    def tag(self, node: Tag, builder: _ParagraphBuilder) -> None:
        tag = str(node.tag).strip().lower()
        if tag in _DROPPED_TAGS:
            if tag == "table":
                builder.paragraph_break()
            return
        if tag in _SPACE_TAGS:
            builder.text(" ")
            return
        if tag in _PARAGRAPH_BREAK_TAGS:
            if node.wiki_markup and tag in ("li", "dt", "dd"):
                builder.list_item()
            else:
                builder.paragraph_break()
        if tag == "nowiki":
            if node.contents is not None:
                builder.text(html.unescape(str(node.contents)))
            return
        if node.contents is not None and not node.self_closing:
            self.walk(node.contents.nodes, builder)


def reference_extract(text: str, site: SiteInfo) -> ExtractedArticle:
    walker = _NodeWalk(site)
    text = resolve_language_conversion(pre_strip(text, walker.disambiguation_templates))
    builder = _ParagraphBuilder()
    walker.walk(mwparserfromhell.parse(text, skip_style_tags=True).nodes, builder)
    return ExtractedArticle(
        builder.finish(), tuple(dict.fromkeys(walker.categories)), walker.is_disambiguation
    )


# --- the comparisons ----------------------------------------------------------------------------

NASTY = [
    # links: nested markup in titles and anchors, trails, pipe tricks, odd namespaces
    "[[A|b {{lang|de|[[C]] c}} d]]es and [[E|{{nowrap|F [[G|g]]}}]]s.",
    "[[AT&amp;T]] and [[AT&amp;T|the &quot;company&quot;]]s &#8212; [[X&#x41;Y]]z",
    "[[Foo|]] and [[Paris (band)|]]s and [[:Category:Cities|]] and [[Bar| ]] and [[Baz|\n]]",
    "[[Foo|<span>bar</span>]]s [[Foo|<ref>cut</ref>]] [[Foo|<nowiki>[[x]]&amp;</nowiki>]]",
    "[[Foo|a<br/>b]] [[Foo|''a'' '''b''']] [[Foo|__NOTOC__x]] [[Foo|a __DISAMBIG__]]",
    "[[File:X.jpg|thumb|A [[Berlin]] caption [[Category:Hidden]]]] after [[Category:Shown|sort]]",
    "[[Foo|[http://example.org ext]]] [[Foo|[[Bar|baz]] [[Qux]]]] [[Foo|{{{1|arg}}}]]",
    "[[{{lang|de|Berlin}}]]s and [[Berlin{{lang|de|x}}|y]] and [[<span>Q</span>|r]]",
    "[[Foo\n|bar]] [[Foo|bar\nbaz]] [[de:Berlin]] [[:de:Berlin|Berlin (de)]] [[wikt:x|y]]",
    "[[#Section|here]] [[Foo#Bar]] [[ foo_bar ]]s [[Media:X.ogg|sound]] [[Special:Random]]",
    # tags: unclosed, stray, self-closing, attributes with markup
    "Text <span>unclosed and <div>more [[Link]]</div> end",
    "Text </span> stray </div> close <br> and </br> and <br/> x<wbr>y",
    '<span title="[[Not a link]] {{lang|de|x}}" class=a>shown [[Link]]s</span>es',
    "<div>a [[x]]</div>es <p>para [[y]]</p>ss <small>[[z]]</small>s",
    "<nowiki>[[Not]] {{a}} &amp; ''b''</nowiki> <nowiki/> <nowiki>a\n\nb</nowiki>",
    "<gallery>\nFile:A.jpg|[[Caption]]\n</gallery> after <poem>line [[one]]\nline two</poem>",
    "<blockquote>Quoted [[text]].\n\nSecond.</blockquote> <center>c</center>",
    "<li>html item [[a]]</li><li>two</li> <dt>t</dt><dd>d</dd> <hr> <td>cell</td>",
    "<ref>[[cut]]</ref> <ref name=x /> <references/> <math>x</math> <sup>2</sup>",
    "<span>a<span>b [[c]]<span>d</span></span></span>e",
    "<templatestyles src=x/>a<section begin=x/>b<section end=x/>c<includeonly>d</includeonly>",
    "<{{tag}}>x</{{tag}}> <span {{attr}}>y</span> <span style='{{a}}'>z</span>",
    # lists, headings and tables in odd places
    "* item [[A]]\n** sub [[B]]s\n# num\n#: cont\n; term : def\n: indent\n----\nafter",
    "* [[A]]\n\n* [[B]]\ntext\n*\n* {{lang|de|x}}\n*",
    "== Heading [[Link]] {{disambiguation}} ==\nbody\n=== [[Category:InHeading]] ===\nx",
    "text == not a heading == text\n==Unclosed\n= h1 =\n====== h6 ======\n",
    "{|\n| [[A]] || b\n|-\n! h\n|}\nafter {| inline |} and\n{|\n| unclosed table",
    "a\n{|\n|\n{|\n| nested\n|}\n|}\nb [[After]]",
    "Line one\nline two\n\n\n\nline three\n \nline four",
    # templates
    "{{lang|de|[[Berlin]]}} {{lang-fr|[[Paris]]s}} {{nihongo|[[Tokyo]]|東京|Tōkyō}} {{nihongo|A||}}",
    "{{nihongo|A| |b}} {{nihongo|A|{{x}}|}} {{convert|10|km}} {{cvt|5}} {{resize|90%|big}}",
    "{{lang|de}} {{lang|de|x=1|y}} {{lang|de|2=named|z}} {{nowrap|a\n\nb}} {{Template:Lang|de|q}}",
    "{{Lang|de|{{lang|fr|inner [[L]]}}}} {{lang|de|{{cite|x}}}} {{lang<!--c-->|de|x}}",
    "{{ lang |de| spaced }} {{lang_x|a|b}} {{langx|a|b}} {{transl|ar|DIN|x}} {{abbr|A|B}}",
    "{{Disambig}} {{dab}} {{lang|de|{{disambiguation}}}} {{small|a [[b]]}}s",
    "[[Foo|a {{lang|de|b {{cite|x}} c}} d]] [[Foo|{{convert|10|km}}]] [[Foo|{{nihongo|A|B|C}}]]s",
    "[[Foo|a<gallery>x</gallery>b<includeonly>[[c]]</includeonly>d]] [[Foo|<references>r</references>]]",
    "{{lang|de|{{ {{x}} |y}} {{lang&amp;|z}} {{Lang&#45;de|w}} {{nowrap{{!}}|v}}}}",
    "{{unclosed [[Link]] {{lang|de|x}} and text",
    "}} stray closers ]] and [[ and {{ and {{{ and |}",
    "{{{arg|[[Link]]}}} {{{1}}} {{#if:x|[[A]]|[[B]]}} {{PAGENAME}} {{DEFAULTSORT:x}}",
    # entities, quotes, magic words, conversion, external links
    "&nbsp;&amp;&lt;b&gt;&#65;&#x42;&#X43; &notanentity; &#xZZ; & amp; &copy;2",
    "'''bold''' ''italic'' '''''both''''' ''' unbalanced '' x",
    "__NOTOC__ __TOC__ text __DISAMBIG__ __notmagic__ __NOINDEX__",
    "-{zh-hans:计算机;zh-hant:計算機}- [[A|-{B}-]] -{H|x=>y}- -{unclosed",
    "[http://example.org Example [[Link]]] http://bare.org/x_(y) [http://no-title] [//proto x]",
    "[http://example.org {{lang|de|Beispiel}}]s [mailto:a@b.c mail] [[http://x.org]]",
    # empty parentheses left behind, full-width ones included, and ones a link keeps
    "東京（{{IPA|x}}）は[[日本]]の首都（、）。[[A|（）]]x（ [[B]] ）y（；）",
    "Berlin ( ) is (; ,) a ([[Link]]) city ().  Spaces   and\ttabs\u3000and\xa0nbsp ( [[C| ]] )",
    # comments, broken and odd input
    "a<!-- comment [[X]] -->b<!-- unclosed [[Y]]",
    "",
    "\n\n\n",
    "[[",
    "[[]]",
    "[[|]]",
    "{{}}",
    "<",
    "<>",
    "[[A|B|C|D]]s",
    "[[A]][[B]]c[[D]]",
    "x[[A]]" * 50,
    "{{lang|de|" * 30 + "deep" + "}}" * 30,
    "[[A|" * 20 + "deep" + "]]" * 20,
    "<span>" * 60 + "deep [[Link]]" + "</span>" * 60,
]

# Fragments a random mix is made of: markup starts and ends that may or may not pair up.
FRAGMENTS = [
    "[[", "]]", "|", "{{", "}}", "{{{", "}}}", "[", "]", "<span>", "</span>", "<br>", "<nowiki>",
    "</nowiki>", "<ref>", "</ref>", "\n", "\n\n", "\n* ", "\n# ", "\n; ", " : ", "\n== ", " ==\n",
    "\n{|\n", "\n|}\n", "\n|-\n", "&amp;", "&#65;", "&bogus;", "''", "'''", "__DISAMBIG__",
    "__NOTOC__", "Berlin", "Category:Cities", "File:X.jpg", "de:", ":", "#", "lang", "lang|de|",
    "nihongo|", "convert|", "disambiguation", "http://example.org ", "<!--", "-->", "=", "text ",
    "es", "(", ")", "; ", "<div>", "</div>", "<li>", "<p>", "-{", "}-", "zh-hans:", " ", "𠮷",
]  # fmt: skip


def _random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def _outcome(function, text: str, site: SiteInfo):
    try:
        return function(text, site)
    except RecursionError:
        return "RecursionError"
    except Exception as error:
        return f"error: {type(error).__name__}"


def _assert_same(text: str, site: SiteInfo) -> ExtractedArticle | str:
    outcome = _outcome(extract_article, text, site)
    assert outcome == _outcome(reference_extract, text, site), text
    return outcome


@pytest.mark.parametrize("lang", SAMPLE_LANGS)
def test_sample_pages_match_the_node_walk(lang):
    site = SiteInfo.build(lang)
    pages = [p for p in sample_pages(lang, scale=3) if p.namespace == 0 and p.redirect_to is None]
    assert len(pages) > 60
    for page in pages:
        _assert_same(page.wikitext, site)


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("lang", ["en", "de", "ja"])
def test_nasty_wikitext_matches_the_node_walk(text, lang):
    _assert_same(text, SiteInfo.build(lang))


@pytest.mark.parametrize("seed", range(4))
def test_random_markup_mixes_match_the_node_walk(seed):
    site = SiteInfo.build("en")
    for text in _random_texts(500, seed):
        assert isinstance(_assert_same(text, site), ExtractedArticle), text


def test_nasty_constructs_give_the_expected_text():
    """Some of the constructs above spelled out: agreeing with the reference is not the only check."""
    site = SiteInfo.build("en")

    def spans(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
        return [
            (p.text, [(p.text[x.start : x.end], x.target) for x in p.links])
            for p in extract_article(text, site).paragraphs
        ]

    assert spans("[[A|b {{lang|de|[[C]] c}} d]]es and [[E|{{nowrap|F [[G|g]]}}]]s.") == [
        ("b C c des and F gs.", [("b C c des", "A"), ("F gs", "E")])
    ]
    assert spans("[[AT&amp;T]] and [[AT&amp;T|the &quot;company&quot;]]s &#8212; [[X&#x41;Y]]z") == [
        ('AT&T and the "company"s — XAYz', [("AT&T", "AT&T"), ('the "company"s', "AT&T"), ("XAYz", "XAY")])
    ]
    # No link trail across a closing tag; <p> starts a paragraph.
    assert spans("<div>a [[x]]</div>es <p>para [[y]]</p>ss <small>[[z]]</small>s") == [
        ("a xes", [("x", "X")]),
        ("para yss zs", [("y", "Y"), ("z", "Z")]),
    ]
    # The template cut before parsing does not know about nowiki; the rest is kept as written,
    # but for link and template brackets, which never reach the text.
    assert spans("<nowiki>[[Not]] {{a}} &amp; ''b''</nowiki> <nowiki/> <nowiki>a\n\nb</nowiki>") == [
        ("Not & ''b'' a b", [])
    ]
    article = extract_article(
        "[[File:X.jpg|thumb|A [[Berlin]] caption [[Category:Hidden]]]] after [[Category:Shown|sort]]", site
    )
    assert [p.text for p in article.paragraphs] == ["after"]
    assert article.categories == ("Shown",)
    article = extract_article(
        "== Heading [[Link]] {{disambiguation}} ==\nbody\n=== [[Category:InHeading]] ===\nx", site
    )
    assert not article.is_disambiguation and article.categories == ()
    assert [p.text for p in article.paragraphs] == ["body", "x"]


def test_broken_token_streams_raise_parser_errors_only():
    """Cut short anywhere, a token stream ends the walk cleanly or with a ParserError."""
    site = SiteInfo.build("en")
    text = "".join(NASTY[:12])
    tokens = CTokenizer().tokenize(text, 0, True)
    outcomes = set()
    for cut in range(len(tokens)):
        try:
            walker = wikitext._TokenWalker(tokens[:cut], site)
            walker.walk(0, ParagraphBuilder())
            outcomes.add("walked")
        except ParserError:
            outcomes.add("ParserError")
    assert outcomes == {"walked", "ParserError"}


def test_the_cyclic_collector_is_left_as_found(monkeypatch):
    site = SiteInfo.build("en")
    assert gc.isenabled()
    assert extract_article("Text [[Link]].", site).paragraphs
    assert gc.isenabled()
    gc.disable()
    try:
        extract_article("Text [[Link]].", site)
        assert not gc.isenabled()
    finally:
        gc.enable()

    class Failing:
        def tokenize(self, *args):
            raise ParserError("broken")

    monkeypatch.setattr(wikitext, "_Tokenizer", Failing)
    with pytest.raises(ParserError):
        extract_article("Text", site)
    assert gc.isenabled()


def test_pure_python_tokenizer_gives_the_same_result(monkeypatch):
    site = SiteInfo.build("en")
    pages = [p for p in sample_pages("en") if p.namespace == 0 and p.redirect_to is None][:40]
    with_c = [_outcome(extract_article, page.wikitext, site) for page in pages]
    monkeypatch.setattr(wikitext, "_Tokenizer", Tokenizer)
    assert [_outcome(extract_article, page.wikitext, site) for page in pages] == with_c
    assert any(not isinstance(result, str) and result.paragraphs for result in with_c)
