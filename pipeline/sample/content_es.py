"""Spanish sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
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

LANG = "es"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "Historia", "see_also": "Véase también", "references": "Referencias"},
    reflist="{{listaref}}",
    refs={
        "atlas": "{{cita libro |título=Atlas de ejemplo del mundo |año=2024 |página=12}}",
        "hist": "{{cita web |url=https://example.org/historia |título=Una breve historia |fechaacceso=2026-10-01}}",
    },
    infobox={
        "country": "Ficha de país",
        "city": "Ficha de localidad",
        "river": "Ficha de río",
        "person": "Ficha de persona",
        "field": "Ficha de disciplina",
        "org": "Ficha de organización",
        "thing": "Ficha de tema",
    },
    categories={
        "country": "Países",
        "city": "Ciudades",
        "river": "Ríos",
        "person": "Personas",
        "field": "Ciencias",
        "org": "Organizaciones internacionales",
        "thing": "Temas",
    },
    nouns={
        "chemist": "una química",
        "writer": "un escritor",
        "planet": "un planeta",
        "element": "un elemento químico",
        "film": "una película",
        "vehicle": "un vehículo",
    },
    forms={
        "art": {
            "Q413": ("la ", "física", ""), "Q395": ("las ", "matemáticas", ""), "Q2329": ("la ", "química", ""),
            "Q333": ("la ", "astronomía", ""), "Q1065": ("la ", None, ""),
        },
    },
    lead={
        "country": ["{self} es un país miembro de {org:art}.{ref:atlas}", "Su capital es {capital}."],
        "city": [("{self} es la capital de {capital_of}.", "{self} es una ciudad de {country}."),
                 "La ciudad se encuentra a orillas del {river}.{ref:atlas}"],
        "river": ["El {self} es un río de {country}.{ref:atlas}", "En sus orillas se encuentra la ciudad de {city}."],
        "person": [("{self} ({year}) fue {noun} de {country}.", "{self} fue {noun}."),
                   "Sus trabajos se centran en {field:art}.{ref:atlas}"],
        "field": ["{self} es una ciencia estrechamente relacionada con {related:art}.{ref:atlas}"],
        "org": ["{self} es una organización internacional fundada en {year}.{ref:atlas}"],
        "thing": ["{self} es {noun}.", ("Se estudia en {field:art}.", "Se presentó por primera vez en {year}.")],
    },
    body={
        "country": ["El país tiene una larga historia escrita.{ref:hist}", "Uno de sus ríos principales es el {river}."],
        "city": ["La ciudad tiene una larga historia.{ref:hist}", "Es conocida por sus museos, mercados y parques."],
        "river": ["Desde la Antigüedad, los barcos transportan mercancías por el río.{ref:hist}", "Varios puentes lo cruzan."],
        "person": ["{name} vivió y trabajó en varios países.{ref:hist}", "Muchas escuelas llevan su nombre."],
        "field": ["Sus métodos se enseñan en las universidades.{ref:hist}",
                  "Su historia se remonta a los sabios de la Antigüedad."],
        "org": ["Su sede está en {city}.", "Entre sus miembros figuran {member} y muchos otros estados.{ref:hist}"],
        "thing": ["Se han escrito muchos libros y artículos sobre el tema.{ref:hist}"],
    },
    table_headers=("Capital", "Río"),
    comment="faltan referencias recientes",
)  # fmt: skip


def _madrid() -> PageSpec:
    ine = "{{cita web |url=https://example.org/ine |título=Padrón municipal 2025 |fechaacceso=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{Ficha de localidad de España\n| nombre = Madrid\n| país = [[España]]\n}}", glue=True),
        P(
            B("Madrid"), " es la capital de ", L("España"), " y la ciudad más poblada del país, con unos 3,4", Ent("nbsp"),
            "millones de habitantes.", Ref(ine, name="ine"), " Se encuentra en el centro de la ", L("península ibérica"), ".",
        ),
        P(
            "Desde la ciudad se ven en invierno las cumbres nevadas de la ", L("sierra de Guadarrama"), Comment("revisar"),
            "; los ", L("Pirineo", trail="s"), " quedan mucho más al norte.", RefUse("ine"),
        ),
        H("Historia"),
        Block(File("Madrid Gran Via.jpg", ["La ", L("Gran Vía (Madrid)", "Gran Vía"), " de noche"], options="miniaturadeimagen"), glue=True),
        P("En 1561 el rey ", L("Felipe II de España", "Felipe II"), " trasladó la corte a Madrid."),
        H("Transporte"),
        P("La red de ", L("Autobús", "autobuses"), " urbanos y el ", I(L("Metro de Madrid", "metro")), " conectan todos los barrios."),
        Block('{| class="wikitable"\n! Distrito !! Habitantes\n|-\n| [[Centro (Madrid)|Centro]] || 140 000\n|}'),
        H("Véase también"),
        UL(L("Barcelona"), L("Mercurio (planeta)")),
        H("Referencias"),
        Block("{{listaref}}"),
        Cats("Capitales de Europa", ("Municipios de la Comunidad de Madrid", "Madrid")),
        langlinks("Q2807", LANG),
    ]  # fmt: skip
    return article("Madrid", "Q2807", blocks, shortdesc="Capital de España")


def _cervantes() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Ficha de escritor\n| nombre = Miguel de Cervantes\n| nacimiento = 1547\n}}", glue=True),
        P(
            B("Miguel de Cervantes Saavedra"), " (1547-1616) fue un novelista, poeta y dramaturgo de ", L("España"), ".",
            Ref("{{cita libro |título=Vida de Cervantes |año=2016}}"),
        ),
        P("Es el autor de ", I(L("Don Quijote de la Mancha")), ", considerada la primera novela moderna."),
        H("Obras"),
        UL(I(L("La Galatea")), I(L("Novelas ejemplares")), [I(L("Los trabajos de Persiles y Sigismunda")), " (póstuma)"]),
        H("Referencias"),
        Block("{{listaref}}"),
        Cats("Escritores de España", "Novelistas"),
    ]  # fmt: skip
    return article("Miguel de Cervantes", "Q5682", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P("El término ", B("Mercurio"), " puede referirse a:"),
        UL(
            [L("Mercurio (planeta)"), ", el planeta más cercano al Sol"],
            [L("Mercurio (elemento)"), ", un elemento químico"],
            [L("Mercurio (mitología)"), ", un dios romano"],
        ),
        Block("{{Desambiguación}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _madrid(),
        _cervantes(),
        _disambiguation(),
        redirect("Villa de Madrid", "#REDIRECCIÓN", "Madrid"),
        redirect("Cervantes", "#REDIRECCION", "Miguel de Cervantes"),
        redirect("Reino de España", "#REDIRECT", "España"),
        literal(
            ns_title(LANG, 14, "Capitales de Europa"),
            "Esta categoría agrupa las capitales de los países de Europa.\n\n[[Categoría:Capitales| Europa]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 10, "Ficha de localidad"),
            "<includeonly>{{Ficha\n| titulo = {{{nombre|}}}\n}}</includeonly><noinclude>{{documentación}}</noinclude>\n",
            namespace=10,
        ),
    ]
