"""English sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
    NL,
    UL,
    B,
    Blk,
    Block,
    Cats,
    Comment,
    Ent,
    File,
    H,
    I,
    L,
    Lang,
    Langlinks,
    Math,
    Nihongo,
    P,
    PageSpec,
    Raw,
    Ref,
    RefUse,
    Tpl,
    article,
    literal,
    ns_title,
    redirect,
)
from pipeline.sample.content_generated import Lexicon, langlinks
from pipeline.sample.entities import CATEGORY_QID, DISAMBIGUATION_QID, DISAMBIGUATION_TITLES, SAMPLE_ENTITIES

LANG = "en"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "History", "see_also": "See also", "references": "References"},
    reflist="{{Reflist}}",
    refs={
        "atlas": "{{cite book |title=Sample Atlas of the World |year=2024 |page=12}}",
        "hist": "{{cite web |url=https://example.org/history |title=A short history |access-date=2026-10-01}}",
    },
    infobox={
        "country": "Infobox country",
        "city": "Infobox settlement",
        "river": "Infobox river",
        "person": "Infobox scientist",
        "field": "Infobox academic discipline",
        "org": "Infobox organization",
        "thing": "Infobox topic",
    },
    categories={
        "country": "Countries",
        "city": "Cities",
        "river": "Rivers",
        "person": "Scientists",
        "field": "Sciences",
        "org": "International organizations",
        "thing": "Topics",
    },
    nouns={
        "physicist": "physicist",
        "chemist": "chemist",
        "planet": "a planet",
        "element": "a chemical element",
        "pictogram": "a pictogram",
        "film": "a film",
        "vehicle": "a vehicle",
        "chronicle": "a chronicle",
    },
    lead={
        "country": ["{self} is a sovereign country{ref:atlas} and a member of the {org}.", "Its capital and largest city is {capital}."],
        "city": [("{self} is the capital of {capital_of}.", "{self} is a city in {country}."), "It lies on the {river}.{ref:atlas}"],
        "river": ["The {self} is a river in {country}.{ref:atlas}", "The city of {city} lies on its banks."],
        "person": [("{self} (born {year}) was a {noun} from {country}.", "{self} was a {noun} from {country}."),
                   "{name} is known for work in {field:lc}.{ref:atlas}"],
        "field": ["{self} is a branch of science that is closely related to {related:lc}.{ref:atlas}"],
        "org": ["The {self} is an international organization founded in {year}.{ref:atlas}"],
        "thing": [("{self} is {noun} that is studied in {field:lc}.", "{self} is {noun} first presented in {year}.", "{self} is {noun}.")],
    },
    body={
        "country": ["The history of {name} spans many centuries of written records.{ref:hist}",
                    "The {river} has long been important for trade in the country."],
        "city": ["The history of {name} goes back many centuries.{ref:hist}",
                 "Today the city is known for its museums, markets and parks."],
        "river": ["Boats have carried goods along the {name} since ancient times.{ref:hist}", "Several bridges cross the river."],
        "person": ["{name} studied and worked in several countries.{ref:hist}", "Many schools and streets are named after {name}."],
        "field": ["Students of {name:lc} learn its methods at universities.{ref:hist}", "Its history reaches back to ancient scholars."],
        "org": ["Its headquarters are in {city}.", "Members include {member} and many other states.{ref:hist}"],
        "thing": ["{name} is often linked with {country}.", "It has been described in many books and articles.{ref:hist}"],
    },
    table_headers=("Capital", "River"),
    comment="please add sources for recent figures",
)  # fmt: skip


def _langlinks(qid: str) -> Langlinks:
    return langlinks(qid, LANG)


def _berlin() -> PageSpec:
    census = (
        "{{cite web |url=https://example.org/berlin-census |title=Census 2025 |publisher=Statistics office}}"
    )
    blocks: list[Blk] = [
        Block("{{Short description|Capital and largest city of Germany}}", glue=True),
        Block("{{Use dmy dates|date=October 2026}}", glue=True),
        Block(
            "{{Infobox settlement\n| name = Berlin\n| image_skyline = Berlin skyline.jpg\n"
            "| subdivision_type = Country\n| subdivision_name = [[Germany]]\n| population_total = 3,900,000\n}}",
            glue=True,
        ),
        P(
            B("Berlin"), " (", Lang("de", "Berlin"), ") is the capital and largest city of ", L("Germany"), ".",
            Ref(census, name="census"), " With about 3.9", Ent("nbsp"), "million inhabitants it is one of the most",
            NL(), "populous cities of Europe.", RefUse("census", spaced=True),
            " The city lies on the ", L("Spree"), " and ", L("Havel"), " rivers in the ",
            L("North_German_Plain", "North German Plain"), ".",
        ),
        P(
            "Berlin has been the seat of several governments; see ", L("Germany#History", "German history"),
            " and the ", L("History of Berlin", "history of the city"), " for an overview.", Comment("checked in October 2026"),
        ),
        H("History"),
        Block("{{Main|History of Berlin}}", glue=True),
        Block(File("Berlin 1900.jpg", ["Street life in ", L("Berlin"), " around 1900"]), glue=True),
        P(
            "The first written records of the town date from the 13th century.", Ref("{{cite book |title=A History of Berlin |year=2019}}"),
            " In 1871 it became the capital of the ", L("German Empire"), ", and in 1990 the capital of a reunited ", L("Germany"), ".",
        ),
        H("Boroughs", 3),
        P("The city is divided into twelve boroughs, among them:"),
        UL(
            L("Mitte"),
            [L("Friedrichshain-Kreuzberg"), " in the east"],
            [L("Charlottenburg-Wilmersdorf", "Charlottenburg"), " and ", L("Spandau"), " in the west"],
        ),
        Block(
            '{| class="wikitable sortable"\n|+ Largest boroughs\n! Borough !! Population\n|-\n'
            "| [[Pankow]] || 410,000\n|-\n| [[Mitte]] || 385,000\n|}"
        ),
        P(
            "The ", L("Berlin Wall", "Wall"), " divided the city from 1961 to 1989.",
            Tpl("{{Citation needed|date=October 2026}}"), " Its remains are a memorial today.",
        ),
        H("See also"),
        UL(L("Paris"), L("Moscow"), [L("Rhine"), " (the longest river of ", L("Germany"), ")"]),
        H("References"),
        Block("{{Reflist}}"),
        Block("{{Authority control}}"),
        Cats("Capitals in Europe", ("Cities in Germany", " "), "Populated places on the Spree"),
        _langlinks("Q64"),
    ]  # fmt: skip
    return article(
        "Berlin", "Q64", blocks,
        shortdesc="Germany's capital \\ largest city – pop. 3.9\u00a0million", image="Berlin skyline.jpg",
    )  # fmt: skip


def _tokyo() -> PageSpec:
    blocks: list[Blk] = [
        Block(
            "{{Infobox settlement\n| name = Tokyo\n| native_name = {{lang|ja|東京都}}\n"
            "| subdivision_name = [[Japan]]\n| population_total = 14,000,000\n}}",
            glue=True,
        ),
        P(
            B("Tokyo"), " is the capital of ", L("Japan"), ". Its name is written ", Nihongo("Tokyo", "東京", "Tōkyō"),
            " and means eastern capital.", Ref("{{cite web |url=https://example.org/tokyo |title=About Tokyo}}", name="about"),
        ),
        P(
            "On clear days ", Nihongo("Mount Fuji", "富士山"), " can be seen from the city.", RefUse("about"),
            " Direct flights connect Tokyo with ", L("Peking"), " and ", L("London"), ".",
        ),
        H("Transport"),
        P(
            "The city has a dense network of ", L("bus", trail="es"), " and commuter ",
            L("Rail transport", "train", trail="s"), " that carry millions of people every day.",
        ),
        P("The ", I(L("Shinkansen")), " high-speed line links Tokyo with ", L("Kyoto"), " and Osaka."),
        H("See also"),
        UL(L("Beijing"), L("Emoji")),
        H("References"),
        Block("{{Reflist}}"),
        Cats("Capitals in Asia", "Cities in Japan"),
        _langlinks("Q1490"),
    ]  # fmt: skip
    return article("Tokyo", "Q1490", blocks, shortdesc="Capital of Japan")


def _physics() -> PageSpec:
    primer = "{{cite book |title=Sample physics primer |year=2021 |isbn=978-0-00-000000-0}}"
    blocks: list[Blk] = [
        Block("{{Short description|Natural science of matter and energy}}", glue=True),
        Block("{{Infobox academic discipline\n| name = Physics\n| related = [[Mathematics]], [[Chemistry]]\n}}", glue=True),
        P(
            B("Physics"), " is the natural science that studies ", L("matter"), ", its motion and behaviour through ",
            L("space"), " and ", L("time"), ", and the related entities of ", L("energy"), " and ", L("force"), ".",
            Ref(primer, name="primer"), " It is closely tied to ", L("mathematics"), ", which provides its language.",
        ),
        P(
            "Famous physicists include ", B(L("Albert Einstein")), " and ", I(L("Isaac Newton")), ". The surname ",
            L("Einstein"), " alone usually means the first of them.",
        ),
        H("Mass and energy"),
        P("The equation ", Math("E = mc^2"), " relates the energy of a body to its mass.", RefUse("primer")),
        P(
            "The book ", I("Space ", Ent("amp"), " Time"), " by the French thinker Ren", Ent("eacute"),
            " Descartes described motion long before ", L("Albert Einstein"), Tpl("{{Citation needed|date=October 2026}}"), ".",
        ),
        H("Branches"),
        UL(
            L("Classical mechanics"),
            L("Electromagnetism"),
            [L("Thermodynamics"), " and ", L("statistical mechanics")],
            L("Quantum mechanics"),
        ),
        H("See also"),
        UL(L("Chemistry"), L("Mercury (planet)", "Mercury"), L("Computer science")),
        H("References"),
        Block("{{Reflist}}"),
        Cats("Physics", ("Natural sciences", "Physics")),
        _langlinks("Q413"),
    ]  # fmt: skip
    return article("Physics", "Q413", blocks, shortdesc="Natural science of matter and energy")


def _emoji() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox topic\n| name = Emoji\n| image = Emoji grid.png\n}}", glue=True),
        P(
            B("Emoji"), " are small pictures such as 😀 or 🎉 that are used in electronic messages.",
            " The word is of ", L("Japan", trail="ese"), " origin.",
            Ref("{{cite news |title=Little pictures |date=2026-01-01}}"),
        ),
        P("The best known of them is the ", L("Smiling face", "😀 smiling face"), ", which shows a happy face."),
        H("History"),
        P(
            "The first widely used set had 176 symbols.", Ref("{{cite web |url=https://example.org/emoji |title=Emoji history}}"),
            " Later sets were standardized as part of ", L("Unicode"), ", and today the ", L("Computer science", "computer"),
            " industry adds new symbols every year.",
        ),
        H("See also"),
        UL(L("Emoticon"), L("Tokyo")),
        H("References"),
        Block("{{Reflist}}"),
        Cats("Emoji", "Japanese inventions"),
        _langlinks("Q87576"),
    ]  # fmt: skip
    return article("Emoji", "Q87576", blocks)


def _star_wars() -> PageSpec:
    title = SAMPLE_ENTITIES["Q17738"]["en"]
    blocks: list[Blk] = [
        Block("{{Infobox film\n| name = Star Wars\n| released = 1977\n| country = [[United States]]\n}}", glue=True),
        P(
            I(B("Star Wars")), " (later retitled ", I(title), ") is a 1977 space opera film.",
            " It was the first film of the ", I(L("Star Wars")), " series.",
        ),
        H("Release"),
        P("The film opened in 1977 and became one of the most successful films of its time."),
        H("References"),
        Block("{{Reflist}}"),
        Cats("1977 films", ("Star Wars films", "Episode 4")),
        _langlinks("Q17738"),
    ]  # fmt: skip
    return article(title, "Q17738", blocks)


def _market() -> PageSpec:
    """An article without a Wikidata item."""
    blocks: list[Blk] = [
        P(
            "The ", B("Riverside Market"), " is a weekly ", Raw("[[wikt:market|market]]", "market"), " in ", L("Berlin"),
            " on the banks of the ", L("Spree"), ".",
        ),
        P("Traders sell fruit, bread and cheese there every Saturday."),
        Cats("Markets in Germany"),
    ]  # fmt: skip
    return article("Riverside Market (Berlin)", None, blocks)


def _chronicle() -> PageSpec:
    """The longest article (a few sequences), generated from repeating parts: long, but not so long
    that one page outweighs the rest of the language (at most ~10% of its examples)."""
    cities = [
        ("Berlin", None),
        ("Paris", None),
        ("Cairo", None),
        ("Moscow", None),
        ("Tokyo", None),
        ("Beijing", None),
        ("London", None),
        ("New_Delhi", "New Delhi"),
        ("bangkok", None),
    ]
    goods = ["salt", "wine", "grain", "timber", "wool", "silk", "iron", "spices", "paper", "glass", "tea"]
    rivers = [("Rhine", None), ("Nile", None), ("Yangtze", None), ("Ganges", None)]
    blocks: list[Blk] = [
        Block("{{Infobox topic\n| name = Chronicle of the Rhine valley\n}}", glue=True),
        P(
            "The ", B("Chronicle of the Rhine valley"), " is a year-by-year account of trade on the ", L("Rhine"),
            " and other rivers.", Ref("{{cite book |title=River trade annals |year=2020}}", name="annals"),
        ),
    ]  # fmt: skip
    for year in range(1810, 1814):
        blocks.append(H(f"Year {year}", 3))
        for j in range(7):
            n = year * 7 + j
            city, city_anchor = cities[n % len(cities)]
            other, other_anchor = cities[(n * 7 + 3) % len(cities)]
            river, _ = rivers[n % len(rivers)]
            good = goods[n % len(goods)]
            parts: list = [
                f"In {year} traders from ",
                L(city, city_anchor),
                f" brought {good} worth {n % 97 + 3} marks along the ",
                L(river),
                " to ",
                L(other, other_anchor),
                ".",
            ]
            if n % 3 == 0:
                parts += [" The journey took ", str(n % 23 + 4), " days."]
            if n % 10 == 0:
                parts.append(RefUse("annals"))
            if n % 7 == 0:
                parts += [" A charter of ", B(L("Germany")), " confirmed the toll."]
            blocks.append(P(*parts))
    blocks.append(H("References"))
    blocks.append(Block("{{Reflist}}"))
    blocks.append(Cats("Chronicles", "History of the Rhine"))
    return article("Chronicle of the Rhine valley", "Q125000001", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("Mercury"), " may refer to:"),
        UL(
            [L("Mercury (planet)"), ", the smallest planet of the Solar System"],
            [L("Mercury (element)"), ", a chemical element with the symbol Hg"],
            [L("Mercury (god)"), ", a Roman god"],
            [L("Freddie Mercury"), ", a singer"],
        ),
        H("See also"),
        UL(L("Hermes")),
        Block("{{Disambiguation}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


_MALFORMED = """'''Unfinished notes''' about the [[Rhine and the {{Infobox river
| name = Rhine
The river flows ]] north through [[Germany]] and '''[[Netherlands]].

== Sources
{{cite book |title=Broken <ref>never closed
[[File:Rhine.jpg|thumb|A [[Rhine]] view
''Still]] open {{{{
"""


def hand_pages() -> list[PageSpec]:
    return [
        _berlin(),
        _tokyo(),
        _physics(),
        _emoji(),
        _star_wars(),
        _market(),
        _chronicle(),
        _disambiguation(),
        literal("Unfinished notes on rivers", _MALFORMED),
        redirect(
            "Einstein",
            "#REDIRECT",
            "Albert Einstein",
            "\n\n{{Redirect category shell|\n{{R from surname}}\n}}",
        ),
        redirect("Peking", "#REDIRECT", "Peiping"),
        redirect("Peiping", "#REDIRECT", "Beijing", "\n\n{{R from former name}}"),
        redirect("Mercury (god)", "#REDIRECT", "Mercurius"),
        redirect("Mercurius", "#REDIRECT", "Mercury (god)"),
        redirect("History of Berlin", "#REDIRECT", "Berlin#History", "\n\n{{R to section}}"),
        literal(
            ns_title(LANG, 14, "Capitals in Europe"),
            "{{Commons category|Capitals in Europe}}\nThis category lists the capital cities of [[Europe]].\n\n"
            "[[Category:Capitals]]\n[[Category:Cities in Europe]]\n",
            namespace=14,
            qid=CATEGORY_QID,
        ),
        literal(
            ns_title(LANG, 10, "Infobox settlement"),
            "<includeonly>{{Infobox\n| title = {{{name|}}}\n| label1 = Country\n| data1 = {{{subdivision_name|}}}\n"
            "}}</includeonly><noinclude>\n{{Documentation}}\n[[Category:Infobox templates]]\n</noinclude>\n",
            namespace=10,
        ),
        literal(
            ns_title(LANG, 3, "Example"),
            "== Welcome ==\nHello and welcome! Please sign your messages with four tildes. "
            "[[User:Admin|Admin]] ([[User talk:Admin|talk]]) 12:00, 1 October 2026 (UTC)\n",
            namespace=3,
        ),
    ]
