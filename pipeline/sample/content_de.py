"""German sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
    NL,
    UL,
    B,
    Blk,
    Block,
    Cats,
    File,
    H,
    L,
    Math,
    P,
    PageSpec,
    Ref,
    RefUse,
    article,
    literal,
    ns_title,
    redirect,
)
from pipeline.sample.content_generated import Lexicon, langlinks
from pipeline.sample.entities import DISAMBIGUATION_QID, DISAMBIGUATION_TITLES

LANG = "de"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "Geschichte", "see_also": "Siehe auch", "references": "Einzelnachweise"},
    reflist="<references />",
    refs={
        "atlas": "{{Literatur |Titel=Beispielatlas der Welt |Jahr=2024 |Seiten=12}}",
        "hist": "{{Internetquelle |url=https://example.org/geschichte |titel=Eine kurze Geschichte |abruf=2026-10-01}}",
    },
    infobox={
        "country": "Infobox Staat",
        "city": "Infobox Ort",
        "river": "Infobox Fluss",
        "person": "Infobox Person",
        "field": "Infobox Wissenschaft",
        "org": "Infobox Organisation",
        "thing": "Infobox Thema",
    },
    categories={
        "country": "Staat",
        "city": "Ort",
        "river": "Fluss",
        "person": "Physiker",
        "field": "Wissenschaft",
        "org": "Internationale Organisation",
        "thing": "Thema",
    },
    nouns={
        "physicist": "Physiker",
        "planet": "ein Planet",
        "element": "ein chemisches Element",
        "film": "ein Film",
        "vehicle": "ein Kraftfahrzeug",
        "festival": "ein Volksfest",
    },
    forms={
        # Genitive after "Hauptstadt" / "Mitglied": [[Deutschland]]s, der [[Volksrepublik China]].
        "gen": {
            "Q183": ("", None, "s"), "Q142": ("", None, "s"), "Q17": ("", None, "s"),
            "Q148": ("der ", None, ""), "Q668": ("", None, "s"), "Q159": ("", None, "s"),
            "Q869": ("", None, "s"), "Q79": ("", None, "s"), "Q29": ("", None, "s"),
            "Q145": ("des ", "Vereinigten Königreichs", ""), "Q1065": ("der ", "Vereinten Nationen", ""),
        },
        "loc": {"Q148": ("in der ", None, ""), "Q145": ("im ", "Vereinigten Königreich", "")},
        "at": {"Q3392": ("am ", None, ""), "Q584": ("am ", None, ""), "Q626": ("an der ", None, "")},
        "nom": {"Q584": ("der ", None, ""), "Q3392": ("der ", None, ""), "Q626": ("die ", None, "")},
    },
    form_defaults={"loc": "in "},
    lead={
        "country": ["{self} ist ein Staat und Mitglied {org:gen}.{ref:atlas}", "Die Hauptstadt ist {capital}."],
        "city": [("{self} ist die Hauptstadt {capital_of:gen}.", "{self} ist eine Stadt {country:loc}."),
                 "Die Stadt liegt {river:at}.{ref:atlas}"],
        "river": ["{self} ist ein Fluss {country:loc}.{ref:atlas}", "An seinem Ufer liegt {city}."],
        "person": [("{self} (* {year}) war ein {noun} aus {country}.", "{self} war ein {noun}."),
                   "Er ist vor allem für Arbeiten in der {field} bekannt.{ref:atlas}"],
        "field": ["{self} ist eine Wissenschaft, die eng mit der {related} verbunden ist.{ref:atlas}"],
        "org": ["Die Organisation {self} wurde {year} gegründet.{ref:atlas}"],
        "thing": ["{self} ist {noun}.", ("Mit dem Thema befasst sich die {field}.", "Es findet in {city} statt.",
                                        "Er erschien im Jahr {year}.")],
    },
    body={
        "country": ["Die Geschichte des Landes reicht viele Jahrhunderte zurück.{ref:hist}",
                    "Zu den wichtigen Flüssen des Landes gehört {river:nom}."],
        "city": ["Die Geschichte der Stadt reicht viele Jahrhunderte zurück.{ref:hist}",
                 "Heute ist die Stadt für ihre Museen, Märkte und Parks bekannt."],
        "river": ["Schon in der Antike transportierten Schiffe Waren auf dem Fluss.{ref:hist}",
                  "Mehrere Brücken überqueren den Fluss."],
        "person": ["{name} lebte und arbeitete in mehreren Ländern.{ref:hist}", "Viele Schulen und Straßen tragen seinen Namen."],
        "field": ["Die {name} wird an Universitäten in aller Welt gelehrt.{ref:hist}",
                  "Ihre Geschichte reicht bis zu den Gelehrten der Antike zurück."],
        "org": ["Zu den Mitgliedern gehören {member} und viele andere Staaten.{ref:hist}"],
        "thing": ["Es gibt viele Bücher und Artikel über {name}.{ref:hist}"],
    },
    table_headers=("Hauptstadt", "Fluss"),
    comment="Bitte Belege ergänzen",
)  # fmt: skip


def _deutschland() -> PageSpec:
    staaten = "{{Internetquelle |url=https://example.org/staaten |titel=Staaten der Welt |abruf=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{Infobox Staat\n| NAME = Bundesrepublik Deutschland\n| HAUPTSTADT = [[Berlin]]\n}}", glue=True),
        P(
            B("Deutschland"), " ist ein Bundesstaat in ", L("Mitteleuropa"), ". Die Hauptstadt ist ", L("Berlin"), ".",
            Ref(staaten, name="staaten"), " Amtssprache ist die ", L("deutsche Sprache"), ".",
        ),
        P(
            "Das Land liegt am Unterlauf des ", L("Rhein", trail="s"), " und am Oberlauf der ", L("Donau"), ".",
            RefUse("staaten"),
        ),
        H("Geschichte"),
        Block(File("Reichstag.jpg", ["Der ", L("Reichstagsgebäude", "Reichstag"), " in ", L("Berlin")], options="mini"), glue=True),
        P(
            "Seit 1990 ist das Land wiedervereinigt. Die ", L("Vereinte Nationen", "Vereinten Nationen"),
            " nahmen beide deutsche Staaten 1973 auf.", Ref("{{Literatur |Titel=Deutsche Geschichte |Jahr=2018}}"),
        ),
        H("Verkehr"),
        P(
            "In den Städten fahren viele ", L("Omnibus", trail="se"), " und Straßenbahnen;", NL(),
            "der Fernverkehr nutzt die ", L("Deutsche_Bahn", "Bahn"), ".",
        ),
        Block(
            '{| class="wikitable"\n! Land !! Hauptstadt\n|-\n| [[Bayern]] || [[München]]\n'
            "|-\n| [[Hessen]] || [[Wiesbaden]]\n|}"
        ),
        H("Siehe auch"),
        UL(L("Frankreich"), L("Liste der Hauptstädte Europas")),
        H("Einzelnachweise"),
        Block("<references />"),
        Cats("Staat in Europa", ("Mitgliedstaat der Vereinten Nationen", "Deutschland")),
        langlinks("Q183", LANG),
    ]  # fmt: skip
    return article("Deutschland", "Q183", blocks, shortdesc="Staat in Mitteleuropa")


def _physik() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox Wissenschaft\n| Name = Physik\n}}", glue=True),
        P(
            B("Physik"), " ist eine ", L("Naturwissenschaft"), ", die grundlegende Phänomene der ", L("Natur"), " untersucht.",
            Ref("{{Literatur |Titel=Einführung in die Physik |Jahr=2020}}"),
        ),
        P(
            "Die Formel ", Math("F = m \\cdot a"), " beschreibt den Zusammenhang von Kraft und Beschleunigung.",
            " Bekannte Physiker sind ", B(L("Albert Einstein")), " und ", L("Isaac Newton"), ".",
        ),
        H("Teilgebiete"),
        UL(L("Mechanik"), L("Optik"), [L("Thermodynamik"), " und ", L("statistische Physik")]),
        H("Einzelnachweise"),
        Block("<references />"),
        Cats("Physik", ("Naturwissenschaft", "Physik")),
        langlinks("Q413", LANG),
    ]  # fmt: skip
    return article("Physik", "Q413", blocks)


def _oktoberfest() -> PageSpec:
    blocks: list[Blk] = [
        P(
            "Das ", B("Oktoberfest"), " ist ein Volksfest in ", L("München"), ". Es findet seit 1810 statt.",
            Ref("{{Internetquelle |url=https://example.org/wiesn |titel=Die Wiesn}}"), NL(),
            "Jedes Jahr kommen Millionen Gäste, viele davon aus ", L("Vereinigtes Königreich", "Großbritannien"),
            " und aus den ", L("Vereinigte Staaten", "USA"), ".",
        ),
        P("Die ", B(L("München", trail="er")), " Brauereien schenken dort ihr Festbier aus."),
        H("Geschichte"),
        P("Das erste Fest wurde zur Hochzeit von Kronprinz ", L("Ludwig I. (Bayern)", "Ludwig"), " gefeiert."),
        H("Einzelnachweise"),
        Block("<references />"),
        Cats("Volksfest in Bayern", "Veranstaltung in München"),
    ]  # fmt: skip
    return article("Oktoberfest", "Q4628", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("Merkur"), " bezeichnet:"),
        UL(
            [L("Merkur (Planet)"), ", den sonnennächsten Planeten"],
            [L("Quecksilber"), ", ein chemisches Element"],
            [L("Merkur (Mythologie)"), ", einen römischen Gott"],
        ),
        Block("{{Begriffsklärung}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _deutschland(),
        _physik(),
        _oktoberfest(),
        _disambiguation(),
        redirect("BRD", "#WEITERLEITUNG", "Deutschland"),
        redirect("Bundesrepublik Deutschland", "#WEITERLEITUNG", "deutschland"),
        redirect("Geschichte Berlins", "#WEITERLEITUNG", "Berlin#Geschichte"),
        literal(
            ns_title(LANG, 14, "Hauptstadt in Europa"),
            "Diese Kategorie enthält die Hauptstädte Europas.\n\n[[Kategorie:Hauptstadt| Europa]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 10, "Infobox Staat"),
            "<onlyinclude>{{Infobox\n| titel = {{{NAME|}}}\n| Hauptstadt = {{{HAUPTSTADT|}}}\n}}</onlyinclude>\n"
            "<noinclude>{{Dokumentation}}</noinclude>\n",
            namespace=10,
        ),
    ]
