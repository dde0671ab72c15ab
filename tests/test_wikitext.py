"""The extraction rules on tricky wikitext."""

from __future__ import annotations

import pytest

from transforms.titles import SiteInfo, parse_link_target, split_page_title
from transforms.wikitext import RedirectMatcher, extract_article, resolve_language_conversion


def extract(text: str, lang: str = "en"):
    return extract_article(text, SiteInfo.build(lang))


def spans(paragraph):
    return [(paragraph.text[link.start : link.end], link.target) for link in paragraph.links]


def test_piped_unpiped_trail_bold_and_lowercase_targets():
    article = extract(
        "'''[[Berlin]]''' has [[bus]]es, a [[river_Spree|river]] and [[germany|''German'' parks]]."
    )
    (paragraph,) = article.paragraphs
    assert paragraph.text == "Berlin has buses, a river and German parks."
    assert spans(paragraph) == [
        ("Berlin", "Berlin"),
        ("buses", "Bus"),
        ("river", "River Spree"),
        ("German parks", "Germany"),
    ]


def test_section_links_and_fragments():
    (paragraph,) = extract(
        "See [[Berlin#History|its history]] and [[#Notes|notes]] and [[Tokyo#Name]]."
    ).paragraphs
    assert paragraph.text == "See its history and notes and Tokyo#Name."
    assert spans(paragraph) == [("its history", "Berlin"), ("Tokyo#Name", "Tokyo")]


def test_removed_markup_leaves_no_debris():
    text = (
        "{{Infobox city\n| name = Berlin\n| population = {{formatnum:3645000}}\n}}\n"
        'Berlin<ref name="a">A source with [[Link]].</ref> is big.<ref name="a"/> <!-- hidden [[X]] -->'
        " Population <math>x^2</math> grows.{{citation needed}}\n"
        '{| class="wikitable"\n| [[Table link]] || cell\n|}\n'
        "[[File:Berlin.jpg|thumb|A [[Berlin]] view]] [[Category:Cities]] [[de:Berlin]] __NOTOC__"
    )
    article = extract(text)
    assert [p.text for p in article.paragraphs] == ["Berlin is big. Population grows."]
    assert article.paragraphs[0].links == ()
    assert article.categories == ("Cities",)
    for debris in ("{", "}", "[", "]", "'''", "|", "<", ">"):
        assert debris not in article.paragraphs[0].text


def test_localized_category_and_file_namespaces():
    article = extract("Text [[Datei:Bild.png|mini|Bildtext]] mit [[Kategorie:Stadt in Deutschland]].", "de")
    assert [p.text for p in article.paragraphs] == ["Text mit ."]
    assert article.categories == ("Stadt in Deutschland",)


@pytest.mark.parametrize(
    "link",
    [
        "[[Datei:Flag of Berlin.svg|mini|Landesflagge Berlins]]",  # German names on an Arabic page
        "[[Bild:Flag of Berlin.svg|Landesflagge [[Berlin]]s]]",  # a media file name, no options
        "[[Fichier:Drapeau|vignette|droite|Drapeau]]",  # image options, no file extension
        "[[File:Flag.svg|250px|Flag]]",  # the canonical name works everywhere
        "[[ملف:Flag.svg|تصغير|علم]]",  # the page's own name
        "[[Kategorie:Berlin.svg|mini]]",
    ],
)
def test_file_links_in_any_known_language_are_no_entities(link):
    local = extract("نص [[ملف:Flag of Berlin.svg|تصغير|علم برلين]] عن [[برلين]].", "ar")
    foreign = extract(f"نص {link} عن [[برلين]].", "ar")
    assert [(p.text, spans(p)) for p in foreign.paragraphs] == [(p.text, spans(p)) for p in local.paragraphs]
    assert [(p.text, spans(p)) for p in foreign.paragraphs] == [("نص عن برلين.", [("برلين", "برلين")])]
    assert foreign.categories == ()


def test_foreign_namespace_names_without_file_signs_stay_links():
    # Without image options or a media file name nothing says the link is a file link.
    (paragraph,) = extract("Siehe [[Datei:Liste|die Liste]].", "ar").paragraphs
    assert spans(paragraph) == [("die Liste", "Datei:Liste")]


def test_inline_templates_keep_their_text():
    (paragraph,) = extract(
        "The city {{lang|de|[[Berlin]]}} or {{nihongo|Tokyo|東京|Tōkyō}} is {{convert|10|km}} wide."
    ).paragraphs
    assert paragraph.text == "The city Berlin or Tokyo (東京, Tōkyō) is 10 km wide."
    assert spans(paragraph) == [("Berlin", "Berlin")]


def test_empty_parentheses_from_removed_templates_go():
    (paragraph,) = extract("Berlin ({{IPA-de|bɛʁˈliːn}}; {{audio|x.ogg}}) is a city.").paragraphs
    assert paragraph.text == "Berlin is a city."


def test_headings_lists_and_blank_lines_split_paragraphs():
    article = extract(
        "Lead [[A]].\nsame paragraph.\n\nSecond.\n== History ==\nBody.\n* item [[B]]\n* two\nafter"
    )
    assert [(p.text, p.is_lead) for p in article.paragraphs] == [
        ("Lead A. same paragraph.", True),
        ("Second.", True),
        ("Body.", False),
        ("item B", False),
        ("two", False),
        ("after", False),
    ]
    assert spans(article.paragraphs[3]) == [("B", "B")]


def test_entities_and_non_bmp_offsets():
    (paragraph,) = extract("Caf&eacute; &amp; 😀 [[𠮷野家|𠮷 chain]] &nbsp;end").paragraphs
    assert paragraph.text == "Café & 😀 𠮷 chain end"
    assert spans(paragraph) == [("𠮷 chain", "𠮷野家")]


def test_language_conversion_markup():
    assert resolve_language_conversion("-{zh-hans:计算机;zh-hant:計算機}-") == "计算机"
    assert resolve_language_conversion("-{zh-tw:電腦; zh-cn:电脑}-") == "电脑"
    assert resolve_language_conversion("a -{Plain}- b") == "a Plain b"
    assert resolve_language_conversion("-{H|zh-hans:x;zh-hant:y}-z") == "z"
    (paragraph,) = extract("[[计算机|-{zh-hans:计算机;zh-hant:計算機}-]]科学", "zh").paragraphs
    assert paragraph.text == "计算机科学"
    assert spans(paragraph) == [("计算机", "计算机")]


def test_no_link_trail_in_cjk_and_thai():
    (paragraph,) = extract("[[東京]]都は大きい", "ja").paragraphs
    assert spans(paragraph) == [("東京", "東京")]
    (paragraph,) = extract("[[กรุงเทพมหานคร]]เป็นเมือง", "th").paragraphs
    assert spans(paragraph) == [("กรุงเทพมหานคร", "กรุงเทพมหานคร")]


def test_other_namespaces_interwiki_and_colon_links_keep_text_only():
    (paragraph,) = extract(
        "[[wikt:house|house]], [[:Category:Cities|cities]], [[Help:Editing]], [[Star Wars: A New Hope]]."
    ).paragraphs
    assert paragraph.text == "house, cities, Help:Editing, Star Wars: A New Hope."
    assert spans(paragraph) == [("Star Wars: A New Hope", "Star Wars: A New Hope")]


def test_disambiguation_detection():
    assert extract(
        "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{disambiguation}}"
    ).is_disambiguation
    assert extract("Foo\n{{Begriffsklärung}}", "de").is_disambiguation
    assert extract("Foo __DISAMBIG__").is_disambiguation
    assert not extract("Plain [[article]].").is_disambiguation


def test_malformed_wikitext_does_not_raise_and_leaves_no_markup_links():
    article = extract("Broken {{Infobox\n| x = [[Foo\nText ]] and ''' unbalanced [[Bar]] end")
    assert all(link.target for p in article.paragraphs for link in p.links)


@pytest.mark.parametrize(
    ("lang", "text", "target"),
    [
        ("en", "#REDIRECT [[Capital city]]", "Capital city"),
        ("en", "#redirect: [[berlin#History|x]]", "berlin#History"),
        ("de", "#WEITERLEITUNG [[Berlin]]", "Berlin"),
        ("ja", "#転送 [[東京都]]", "東京都"),
        ("ru", "#перенаправление [[Москва]]", "Москва"),
        ("ar", "#تحويل [[برلين]]", "برلين"),
    ],
)
def test_redirect_magic_words(lang, text, target):
    from transforms.languages import REDIRECT_MAGIC_WORDS

    assert RedirectMatcher(REDIRECT_MAGIC_WORDS.get(lang, ())).target(text) == target


def test_title_normalization():
    site = SiteInfo.build("en")
    assert parse_link_target("  new_york&amp;co  ", site).title == "New york&co"
    assert parse_link_target("Caf%C3%A9", site).title == "Café"
    assert parse_link_target("de:Berlin", site).kind == "interlanguage"
    assert parse_link_target(":fr:Paris", site).kind == "interlanguage"
    assert parse_link_target("Image:X.png", site).namespace == 6
    assert split_page_title("Kategorie:Berlin", SiteInfo.build("de")) == (14, "Berlin")
    assert split_page_title("Mission: Impossible", site) == (0, "Mission: Impossible")


def test_pre_strip_cuts_dropped_templates_and_tables_only():
    from transforms.wikitext import strip_tables, strip_templates

    text = "A {{Infobox|x={{nested|y}}|z=[[Link]]}} B {{lang|de|Wort}} C {{#if:1|x}} D"
    assert strip_templates(text) == "A  B {{lang|de|Wort}} C  D"
    # Unbalanced braces stop the cut: the parser sees the rest.
    assert strip_templates("A {{unclosed [[B]] and {{cite|x}} C") == "A {{unclosed [[B]] and {{cite|x}} C"
    assert strip_tables("x\n{|\n| a\n{|\n| inner\n|}\n| b\n|}\ny") == "x\n\n\ny"
    assert strip_tables("x\n{|\n| never closed") == "x\n{|\n| never closed"


def test_math_with_braces_does_not_confuse_template_cut():
    (paragraph,) = extract(
        "Area <math>\\frac{{a}}{b}}}</math> is [[Pi]] {{citation needed}} here."
    ).paragraphs
    assert paragraph.text == "Area is Pi here."
    assert spans(paragraph) == [("Pi", "Pi")]
