"""French sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
    UL,
    B,
    Blk,
    Block,
    Cats,
    Ent,
    File,
    H,
    I,
    L,
    Lang,
    P,
    PageSpec,
    Ref,
    RefUse,
    Tpl,
    article,
    literal,
    ns_title,
    redirect,
)
from pipeline.sample.content_generated import Lexicon, langlinks
from pipeline.sample.entities import DISAMBIGUATION_QID, DISAMBIGUATION_TITLES, SAMPLE_ENTITIES

LANG = "fr"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "Histoire", "see_also": "Voir aussi", "references": "Références"},
    reflist="{{Références}}",
    refs={
        "atlas": "{{Ouvrage |titre=Atlas d'exemple du monde |année=2024 |page=12}}",
        "hist": "{{Lien web |url=https://example.org/histoire |titre=Une brève histoire |consulté le=2026-10-01}}",
    },
    infobox={
        "country": "Infobox Pays",
        "city": "Infobox Ville",
        "river": "Infobox Cours d'eau",
        "person": "Infobox Biographie2",
        "field": "Infobox Discipline",
        "org": "Infobox Organisation",
        "thing": "Infobox Sujet",
    },
    categories={
        "country": "Pays",
        "city": "Ville",
        "river": "Cours d'eau",
        "person": "Personnalité",
        "field": "Science",
        "org": "Organisation internationale",
        "thing": "Sujet",
    },
    nouns={
        "physicist": "un physicien",
        "chemist": "une chimiste",
        "planet": "une planète",
        "element": "un élément chimique",
        "film": "un film",
        "vehicle": "un véhicule",
    },
    forms={
        # "située en Allemagne", "au Japon"
        "loc": {
            "Q183": ("en ", None, ""), "Q142": ("en ", None, ""), "Q17": ("au ", None, ""),
            "Q148": ("en ", None, ""), "Q668": ("en ", None, ""), "Q159": ("en ", None, ""),
            "Q869": ("en ", None, ""), "Q79": ("en ", None, ""), "Q29": ("en ", None, ""),
            "Q145": ("au ", None, ""), "Q1008": ("en ", None, ""),
        },
        # "capitale de l'Allemagne", "du Japon"
        "gen": {
            "Q183": ("de l'", None, ""), "Q142": ("de la ", None, ""), "Q17": ("du ", None, ""),
            "Q148": ("de la ", None, ""), "Q668": ("de l'", None, ""), "Q159": ("de la ", None, ""),
            "Q869": ("de la ", None, ""), "Q79": ("de l'", None, ""), "Q29": ("de l'", None, ""),
            "Q145": ("du ", None, ""), "Q1008": ("de la ", None, ""), "Q85": ("du ", "Caire", ""),
        },
        # "originaire d'Allemagne"
        "orig": {"Q183": ("d'", None, ""), "Q142": ("de ", None, ""), "Q145": ("du ", None, "")},
        # with the article; field names in lower case ("la [[physique]]")
        "art": {
            "Q413": ("la ", "physique", ""), "Q395": ("les ", "mathématiques", ""), "Q2329": ("la ", "chimie", ""),
            "Q1065": ("l'", None, ""), "Q3392": ("le ", None, ""), "Q584": ("le ", None, ""),
            "Q626": ("la ", None, ""), "Q142": ("la ", None, ""), "Q148": ("la ", None, ""),
            "Q183": ("l'", None, ""), "Q29": ("l'", None, ""),
        },
        "a": {"Q413": ("à la ", "physique", ""), "Q395": ("aux ", "mathématiques", ""), "Q2329": ("à la ", "chimie", "")},
    },
    lead={
        "country": ["{self} est un pays membre de {org:art}.{ref:atlas}", "Sa capitale est {capital}."],
        "city": [("{self} est la capitale {capital_of:gen}.", "{self} est une ville située {country:loc}."),
                 "La ville est traversée par {river:art}.{ref:atlas}"],
        "river": ["{self} est un fleuve qui coule {country:loc}.{ref:atlas}", "La ville {city:gen} se trouve sur ses rives."],
        "person": [("{self} ({year}) est {noun} originaire {country:orig}.", "{self} est {noun}."),
                   "Ses travaux portent sur {field:art}.{ref:atlas}"],
        "field": ["La discipline {self} est étroitement liée {related:a}.{ref:atlas}"],
        "org": ["L'organisation {self} a été fondée en {year}.{ref:atlas}"],
        "thing": ["{self} est {noun}.", ("On l'étudie en {field:lc}.", "La première présentation date de {year}.")],
    },
    body={
        "country": ["Le pays possède une longue histoire écrite.{ref:hist}", "Parmi ses principaux fleuves figure {river:art}."],
        "city": ["La ville possède une longue histoire.{ref:hist}", "Elle est connue pour ses musées, ses marchés et ses parcs."],
        "river": ["Depuis l'Antiquité, des bateaux transportent des marchandises sur ce fleuve.{ref:hist}",
                  "Plusieurs ponts le traversent."],
        "person": ["{name} a vécu et travaillé dans plusieurs pays.{ref:hist}", "De nombreuses écoles portent son nom."],
        "field": ["Cette discipline est enseignée dans les universités.{ref:hist}",
                  "Son histoire remonte aux savants de l'Antiquité."],
        "org": ["Son siège se trouve à {city}.", "Parmi ses membres figurent {member:art} et de nombreux autres États.{ref:hist}"],
        "thing": ["De nombreux livres et articles lui sont consacrés.{ref:hist}"],
    },
    table_headers=("Capitale", "Fleuve"),
    comment="merci de sourcer les chiffres récents",
)  # fmt: skip


def _paris() -> PageSpec:
    insee = (
        "{{Lien web |url=https://example.org/insee |titre=Populations légales 2025 |consulté le=2026-10-01}}"
    )
    blocks: list[Blk] = [
        Block("{{Infobox Commune de France\n| nom = Paris\n| région = [[Île-de-France]]\n}}", glue=True),
        P(
            B("Paris"), " est la capitale de la ", L("France"), ". Surnommée la «", Ent("nbsp"), "Ville Lumière", Ent("nbsp"),
            "» (", Lang("en", "City of Light"), "), elle est traversée par la ", L("Seine"), ".", Ref(insee, name="insee"),
        ),
        P(
            "La ville compte environ 2,1", Ent("nbsp"), "millions d'habitants.", RefUse("insee"),
            " Son monument le plus connu est la ", L("tour Eiffel"), ", construite pour l'", L("Exposition universelle de 1889"), ".",
        ),
        H("Histoire"),
        Block(File("Paris vue.jpg", ["Vue de ", L("Paris"), " depuis la ", L("tour Montparnasse")], options="vignette"), glue=True),
        P(
            "Fondée sous le nom de ", L("Lutèce"), ", la ville devient la capitale du royaume au Moyen Âge.",
            Tpl("{{Référence nécessaire}}"), " Les ", L("Alpe", trail="s"), " sont loin, mais la Seine relie la ville à la mer.",
        ),
        H("Arrondissements", 3),
        UL([L("1er arrondissement de Paris", "1er arrondissement"), " : le ", I(L("Louvre")), " et les Halles"],
           [L("7e arrondissement de Paris", "7e arrondissement"), " : la tour Eiffel"]),
        H("Voir aussi"),
        UL(L("Lyon"), L("Organisation des Nations unies pour l'éducation, la science et la culture", "UNESCO")),
        H("Références"),
        Block("{{Références}}"),
        Cats("Capitale en Europe", ("Ville-département", "Paris")),
        langlinks("Q90", LANG),
    ]  # fmt: skip
    return article("Paris", "Q90", blocks, shortdesc="Capitale de la France", image="Paris vue.jpg")


def _lyon() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox Commune de France\n| nom = Lyon\n}}", glue=True),
        P(
            B("Lyon"), " est une ville de ", L("France"), " située au confluent du ", L("Rhône (fleuve)", "Rhône"),
            " et de la ", L("Saône"), ".", Ref("{{Ouvrage |titre=Histoire de Lyon |année=2015}}"),
        ),
        P("Les habitants de ", B(L("Lyon")), " sont appelés les Lyonnais. La ville est proche de ", L("Paris"), " en ", L("TGV"), "."),
        H("Histoire"),
        P("La ville fut fondée par les Romains sous le nom de ", I("Lugdunum"), "."),
        H("Références"),
        Block("{{Références}}"),
        Cats("Ville de France", "Commune du Rhône"),
    ]  # fmt: skip
    return article("Lyon", "Q456", blocks)


def _cote_divoire() -> PageSpec:
    title = SAMPLE_ENTITIES["Q1008"][LANG]
    blocks: list[Blk] = [
        Block("{{Infobox Pays\n| nom = République de Côte d'Ivoire\n}}", glue=True),
        P(
            "La ", B("Côte d'Ivoire"), " est un pays d'", L("Afrique de l'Ouest"), ". Elle est membre de l'",
            L("Organisation des Nations unies"), ".", Ref("{{Lien web |url=https://example.org/ci |titre=Pays d'Afrique}}"),
        ),
        P("Sa capitale politique est ", L("Yamoussoukro"), ", mais la plus grande ville est ", L("Abidjan"), "."),
        H("Références"),
        Block("{{Références}}"),
        Cats("Pays d'Afrique"),
        langlinks("Q1008", LANG),
    ]  # fmt: skip
    return article(title, "Q1008", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Homonymie}}", glue=True),
        P(B("Mercure"), " peut désigner :"),
        UL(
            [L("Mercure (planète)"), ", la planète la plus proche du Soleil"],
            [L("Mercure (chimie)"), ", un élément chimique"],
            [L("Mercure (mythologie)"), ", un dieu romain"],
        ),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _paris(),
        _lyon(),
        _cote_divoire(),
        _disambiguation(),
        redirect("Ville Lumière", "#REDIRECTION", "Paris"),
        redirect("Lutèce", "#REDIRECTION", "Paris", "\n{{Redirection historique}}"),
        redirect("Histoire de Paris", "#REDIRECTION", "Paris#Histoire"),
        literal(
            ns_title(LANG, 14, "Capitale en Europe"),
            "Cette catégorie regroupe les capitales des pays d'Europe.\n\n[[Catégorie:Capitale| Europe]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 3, "Exemple"),
            "== Bienvenue ==\nBonjour et bienvenue ! N'oubliez pas de signer vos messages. "
            "[[Utilisateur:Admin|Admin]] 1 octobre 2026 à 12:00 (CEST)\n",
            namespace=3,
        ),
    ]
