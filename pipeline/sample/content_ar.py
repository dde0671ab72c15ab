"""Arabic sample wiki: sentences of the generated articles and the hand-written pages."""

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

LANG = "ar"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "التاريخ", "see_also": "انظر أيضًا", "references": "المراجع"},
    reflist="{{مراجع}}",
    refs={
        "atlas": "{{استشهاد بكتاب |عنوان=أطلس العالم التجريبي |سنة=2024 |صفحة=12}}",
        "hist": "{{استشهاد ويب |مسار=https://example.org/tarikh |عنوان=تاريخ موجز |تاريخ الوصول=2026-10-01}}",
    },
    infobox={
        "country": "صندوق معلومات دولة",
        "city": "صندوق معلومات مدينة",
        "river": "صندوق معلومات نهر",
        "person": "صندوق معلومات شخص",
        "field": "صندوق معلومات علم",
        "org": "صندوق معلومات منظمة",
        "thing": "صندوق معلومات موضوع",
    },
    categories={
        "country": "دول",
        "city": "مدن",
        "river": "أنهار",
        "person": "علماء",
        "field": "علوم",
        "org": "منظمات دولية",
        "thing": "مواضيع",
    },
    nouns={
        "physicist": "عالم فيزياء",
        "physician": "طبيب وفيلسوف",
        "planet": "كوكب في المجموعة الشمسية",
        "element": "عنصر كيميائي",
    },
    forms={
        # with the article: [[فيزياء|الفيزياء]]
        "def": {"Q413": ("", "الفيزياء", ""), "Q395": ("", "الرياضيات", ""), "Q333": ("", None, "")},
    },
    lead={
        "country": ["{self} دولة عضو في {org}.{ref:atlas}", "عاصمتها {capital}."],
        "city": [("{self} هي عاصمة {capital_of}.", "{self} مدينة في {country}."), "يمر بها نهر {river}."],
        "river": ["{self} نهر يجري في {country}.{ref:atlas}", "تقع مدينة {city} على ضفافه."],
        "person": [("{self} ({year}) {noun} من {country}.", "{self} ({year}) {noun}.", "{self} {noun}."),
                   "اشتهر بأعماله في {field:def}.{ref:atlas}"],
        "field": ["{self} علم وثيق الصلة بعلم {related:def}.{ref:atlas}"],
        "org": ["{self} منظمة دولية تأسست عام {year}.{ref:atlas}"],
        "thing": ["{self} {noun}.", "يدرس في إطار {field}."],
    },
    body={
        "country": ["يمتد تاريخ {name} لآلاف السنين.{ref:hist}", "من أهم أنهارها نهر {river}."],
        "city": ["للمدينة تاريخ طويل.{ref:hist}", "تشتهر اليوم بمتاحفها وأسواقها وحدائقها."],
        "river": ["استخدمت السفن النهر لنقل البضائع منذ العصور القديمة.{ref:hist}", "تعبره عدة جسور."],
        "person": ["عاش {name} وعمل في عدة بلدان.{ref:hist}", "تحمل مدارس وشوارع كثيرة اسمه."],
        "field": ["يدرس هذا العلم في الجامعات حول العالم.{ref:hist}", "يعود تاريخه إلى علماء العصور القديمة."],
        "org": ["يقع مقرها في {city}.", "من أعضائها {member} ودول أخرى كثيرة.{ref:hist}"],
        "thing": ["كتبت عنه كتب ومقالات كثيرة.{ref:hist}"],
    },
    table_headers=("العاصمة", "النهر"),
    comment="بحاجة إلى مصادر",
)  # fmt: skip


def _cairo() -> PageSpec:
    cairo = "{{استشهاد ويب |مسار=https://example.org/cairo |عنوان=القاهرة في أرقام |تاريخ الوصول=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{صندوق معلومات مدينة\n| الاسم = القاهرة\n| البلد = [[مصر]]\n}}", glue=True),
        P(
            B("القاهرة"), " هي عاصمة ", B(L("مصر")), " وأكبر مدنها، وتقع على ضفاف ", L("النيل", "نهر النيل"), ".",
            Ref(cairo, name="cairo"),
        ),
        P(
            "يبلغ عدد سكانها نحو 10", Ent("nbsp"), "ملايين نسمة.", RefUse("cairo"), " ومن أشهر معالمها ",
            L("أهرامات الجيزة"), " وكذلك ", L("الجامع الأزهر"), ".",
        ),
        H("التاريخ"),
        Block(File("Cairo skyline.jpg", ["منظر ", L("القاهرة"), " من البرج"], options="تصغير"), glue=True),
        P("أسسها ", L("الدولة الفاطمية", "الفاطميون"), " سنة 969 م.", Comment("بحاجة لمصدر")),
        H("الأحياء"),
        UL(L("الزمالك"), L("مصر الجديدة"), [L("حي الحسين", "الحسين"), " في القاهرة القديمة"]),
        Block('{| class="wikitable"\n! الحي !! السكان\n|-\n| [[شبرا]] || 1000000\n|}'),
        H("انظر أيضًا"),
        UL(L("الإسكندرية"), L("ابن سينا")),
        H("المراجع"),
        Block("{{مراجع}}"),
        Cats("عواصم أفريقيا", ("مدن مصر", "القاهرة")),
        langlinks("Q85", LANG),
    ]  # fmt: skip
    return article("القاهرة", "Q85", blocks, shortdesc="عاصمة مصر")


def _avicenna() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{صندوق معلومات عالم\n| الاسم = ابن سينا\n}}", glue=True),
        P(
            B("ابن سينا"), " (980–1037) طبيب وفيلسوف من أشهر علماء ", L("العصر الذهبي للإسلام"), ".",
            Ref("{{استشهاد بكتاب |عنوان=أعلام الطب |سنة=2010}}"),
        ),
        P("من أشهر كتبه ", I(L("القانون في الطب")), " الذي دُرِّس في أوروبا قرونًا طويلة."),
        H("المراجع"),
        Block("{{مراجع}}"),
        Cats("أطباء", "فلاسفة"),
        langlinks("Q8011", LANG),
    ]  # fmt: skip
    return article("ابن سينا", "Q8011", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("عطارد"), " قد يشير إلى:"),
        UL([L("عطارد (كوكب)"), "، أقرب الكواكب إلى الشمس"], [L("زئبق"), "، عنصر كيميائي"], [L("ميركوري"), "، إله روماني"]),
        Block("{{توضيح}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


_MALFORMED = """'''مسودة''' عن [[النيل و{{صندوق معلومات
| الاسم =
النهر يجري ]] شمالاً عبر [[مصر]] و'''[[السودان]].

== مصادر
<ref>غير مغلق {{{{
"""


def hand_pages() -> list[PageSpec]:
    return [
        _cairo(),
        _avicenna(),
        _disambiguation(),
        literal("مسودة غير مكتملة", _MALFORMED),
        redirect("أم الدنيا", "#تحويل", "القاهرة"),
        redirect("جمهورية مصر العربية", "#تحويل", "مصر"),
        redirect("الشيخ الرئيس", "#REDIRECT", "ابن سينا"),
        literal(
            ns_title(LANG, 14, "عواصم أفريقيا"), "عواصم الدول الأفريقية.\n\n[[تصنيف:عواصم]]\n", namespace=14
        ),
        literal(
            ns_title(LANG, 3, "مثال"),
            "== مرحبًا ==\nأهلاً بك في ويكيبيديا! لا تنس توقيع رسائلك. [[مستخدم:Admin|Admin]] 12:00، 1 أكتوبر 2026 (ت ع م)\n",
            namespace=3,
        ),
    ]
