"""The entities of the sample wiki: one Wikidata-like item per row, with its title in each language.

Q-ids are illustrative numbers, not a copy of Wikidata. Titles are plausible per-language titles.
Attributes (``capital``, ``country``, ``river``, ...) are other Q-ids the generated article text
links to; ``noun`` and ``year`` fill in sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_DATE = "20261101"
SAMPLE_LANGS: tuple[str, ...] = ("en", "de", "fr", "es", "ja", "zh", "ar", "hi", "ru", "th")

_ALL = SAMPLE_LANGS


@dataclass(frozen=True)
class Entity:
    qid: str
    kind: str  # country, city, river, person, field, org, thing, disambiguation
    titles: dict[str, str]
    attrs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year: int | None = None
    noun: str | None = None
    # Wikidata class of the item (P31), for the Wikidata JSON dump.
    instance_of: str = "Q35120"


def _t(*values: str, langs: tuple[str, ...] = _ALL) -> dict[str, str]:
    if len(values) != len(langs):
        raise ValueError(f"{len(values)} titles for {len(langs)} languages: {values}")
    return dict(zip(langs, values, strict=True))


def _only(**titles: str) -> dict[str, str]:
    return {lang: titles[lang] for lang in SAMPLE_LANGS if lang in titles}


_UN = ("Q1065",)

#                     en                 de                    fr              es             ja
#                     zh                 ar                    hi              ru             th
ENTITIES: tuple[Entity, ...] = (
    # ---- countries -------------------------------------------------------------------------------
    Entity("Q183", "country", _t("Germany", "Deutschland", "Allemagne", "Alemania", "ドイツ",
           "德国", "ألمانيا", "जर्मनी", "Германия", "ประเทศเยอรมนี"),
           {"capital": ("Q64",), "river": ("Q584",), "org": _UN}, instance_of="Q6256"),
    Entity("Q142", "country", _t("France", "Frankreich", "France", "Francia", "フランス",
           "法国", "فرنسا", "फ़्रान्स", "Франция", "ประเทศฝรั่งเศส"),
           {"capital": ("Q90",), "org": _UN}, instance_of="Q6256"),
    Entity("Q17", "country", _t("Japan", "Japan", "Japon", "Japón", "日本",
           "日本", "اليابان", "जापान", "Япония", "ประเทศญี่ปุ่น"),
           {"capital": ("Q1490",), "org": _UN}, instance_of="Q6256"),
    Entity("Q148", "country", _t("China", "Volksrepublik China", "Chine", "China", "中華人民共和国",
           "中华人民共和国", "الصين", "चीन", "Китай", "ประเทศจีน"),
           {"capital": ("Q956",), "river": ("Q5413",), "org": _UN}, instance_of="Q6256"),
    Entity("Q668", "country", _t("India", "Indien", "Inde", "India", "インド",
           "印度", "الهند", "भारत", "Индия", "ประเทศอินเดีย"),
           {"capital": ("Q987",), "river": ("Q5089",), "org": _UN}, instance_of="Q6256"),
    Entity("Q159", "country", _t("Russia", "Russland", "Russie", "Rusia", "ロシア",
           "俄罗斯", "روسيا", "रूस", "Россия", "ประเทศรัสเซีย"),
           {"capital": ("Q649",), "river": ("Q626",), "org": _UN}, instance_of="Q6256"),
    Entity("Q869", "country", _t("Thailand", "Thailand", "Thaïlande", "Tailandia", "タイ王国",
           "泰国", "تايلاند", "थाईलैंड", "Таиланд", "ประเทศไทย"),
           {"capital": ("Q1861",), "river": ("Q1395",), "org": _UN}, instance_of="Q6256"),
    Entity("Q79", "country", _t("Egypt", "Ägypten", "Égypte", "Egipto", "エジプト",
           "埃及", "مصر", "मिस्र", "Египет", "ประเทศอียิปต์"),
           {"capital": ("Q85",), "river": ("Q3392",), "org": _UN}, instance_of="Q6256"),
    Entity("Q29", "country", _only(en="Spain", de="Spanien", fr="Espagne", es="España", ar="إسبانيا",
           ru="Испания"), {"capital": ("Q2807",), "org": _UN}, instance_of="Q6256"),
    Entity("Q145", "country", _only(en="United Kingdom", de="Vereinigtes Königreich", fr="Royaume-Uni",
           ja="イギリス", hi="यूनाइटेड किंगडम"), {"capital": ("Q84",), "org": _UN}, instance_of="Q6256"),
    Entity("Q1008", "country", _only(fr="Côte d'Ivoire", es="Costa de Marfil", ar="ساحل العاج"),
           {"org": _UN}, instance_of="Q6256"),
    # ---- cities ----------------------------------------------------------------------------------
    Entity("Q64", "city", _t("Berlin", "Berlin", "Berlin", "Berlín", "ベルリン",
           "柏林", "برلين", "बर्लिन", "Берлин", "เบอร์ลิน"),
           {"capital_of": ("Q183",)}, instance_of="Q515"),
    Entity("Q90", "city", _t("Paris", "Paris", "Paris", "París", "パリ",
           "巴黎", "باريس", "पेरिस", "Париж", "ปารีส"),
           {"capital_of": ("Q142",)}, instance_of="Q515"),
    Entity("Q1490", "city", _t("Tokyo", "Tokio", "Tokyo", "Tokio", "東京都",
           "东京都", "طوكيو", "टोक्यो", "Токио", "โตเกียว"),
           {"capital_of": ("Q17",)}, instance_of="Q515"),
    Entity("Q956", "city", _t("Beijing", "Peking", "Pékin", "Pekín", "北京市",
           "北京市", "بكين", "बीजिंग", "Пекин", "ปักกิ่ง"),
           {"capital_of": ("Q148",)}, instance_of="Q515"),
    Entity("Q649", "city", _t("Moscow", "Moskau", "Moscou", "Moscú", "モスクワ",
           "莫斯科", "موسكو", "मास्को", "Москва", "มอสโก"),
           {"capital_of": ("Q159",)}, instance_of="Q515"),
    Entity("Q1861", "city", _t("Bangkok", "Bangkok", "Bangkok", "Bangkok", "バンコク",
           "曼谷", "بانكوك", "बैंकॉक", "Бангкок", "กรุงเทพมหานคร"),
           {"capital_of": ("Q869",), "river": ("Q1395",)}, instance_of="Q515"),
    Entity("Q85", "city", _t("Cairo", "Kairo", "Le Caire", "El Cairo", "カイロ",
           "开罗", "القاهرة", "काहिरा", "Каир", "ไคโร"),
           {"capital_of": ("Q79",), "river": ("Q3392",)}, instance_of="Q515"),
    Entity("Q2807", "city", _only(de="Madrid", fr="Madrid", es="Madrid"),
           {"capital_of": ("Q29",)}, instance_of="Q515"),
    Entity("Q84", "city", _only(en="London", fr="Londres", ja="ロンドン", hi="लंदन"),
           {"capital_of": ("Q145",)}, instance_of="Q515"),
    Entity("Q987", "city", _only(en="New Delhi", de="Neu-Delhi", zh="新德里", hi="नई दिल्ली"),
           {"capital_of": ("Q668",)}, instance_of="Q515"),
    Entity("Q34600", "city", _only(ja="京都市", zh="京都市"), {"country": ("Q17",)}, instance_of="Q515"),
    Entity("Q1726", "city", _only(de="München"), {"country": ("Q183",)}, instance_of="Q515"),
    Entity("Q8686", "city", _only(zh="上海市"), {"country": ("Q148",), "river": ("Q5413",)},
           instance_of="Q515"),
    Entity("Q1850", "city", _only(th="เชียงใหม่"), {"country": ("Q869",)}, instance_of="Q515"),
    Entity("Q456", "city", _only(fr="Lyon"), {"country": ("Q142",)}, instance_of="Q515"),
    Entity("Q87", "city", _only(fr="Alexandrie", ar="الإسكندرية"), {"country": ("Q79",)}, instance_of="Q515"),
    # ---- rivers ----------------------------------------------------------------------------------
    Entity("Q584", "river", _t("Rhine", "Rhein", "Rhin", "Rin", "ライン川",
           "莱茵河", "الراين", "राइन नदी", "Рейн", "แม่น้ำไรน์"),
           {"country": ("Q183",)}, instance_of="Q4022"),
    Entity("Q3392", "river", _t("Nile", "Nil", "Nil", "Nilo", "ナイル川",
           "尼罗河", "النيل", "नील नदी", "Нил", "แม่น้ำไนล์"),
           {"country": ("Q79",), "city": ("Q85",)}, instance_of="Q4022"),
    Entity("Q626", "river", _only(de="Wolga", fr="Volga", ru="Волга"), {"country": ("Q159",)},
           instance_of="Q4022"),
    Entity("Q5089", "river", _only(en="Ganges", hi="गंगा नदी", th="แม่น้ำคงคา"), {"country": ("Q668",)},
           instance_of="Q4022"),
    Entity("Q5413", "river", _only(en="Yangtze", ja="長江", zh="长江"),
           {"country": ("Q148",), "city": ("Q8686",)}, instance_of="Q4022"),
    Entity("Q1395", "river", _only(th="แม่น้ำเจ้าพระยา"), {"country": ("Q869",), "city": ("Q1861",)},
           instance_of="Q4022"),
    # ---- people ----------------------------------------------------------------------------------
    Entity("Q937", "person", _t("Albert Einstein", "Albert Einstein", "Albert Einstein", "Albert Einstein",
           "アルベルト・アインシュタイン", "阿尔伯特·爱因斯坦", "ألبرت أينشتاين", "अल्बर्ट आइंस्टीन",
           "Эйнштейн, Альберт", "อัลเบิร์ต ไอน์สไตน์"),
           {"country": ("Q183",), "field": ("Q413",)}, year=1879, noun="physicist", instance_of="Q5"),
    Entity("Q935", "person", _only(en="Isaac Newton", fr="Isaac Newton", ar="إسحاق نيوتن",
           hi="आइज़क न्यूटन", ru="Ньютон, Исаак"),
           {"country": ("Q145",), "field": ("Q413", "Q395")}, year=1643, noun="physicist", instance_of="Q5"),
    Entity("Q7186", "person", _only(en="Marie Curie", fr="Marie Curie", es="Marie Curie", ru="Кюри, Мария"),
           {"country": ("Q142",), "field": ("Q2329", "Q413")}, year=1867, noun="chemist", instance_of="Q5"),
    Entity("Q4604", "person", _only(ja="孔子", zh="孔子"), {"country": ("Q148",)}, noun="philosopher",
           instance_of="Q5"),
    Entity("Q1001", "person", _only(hi="महात्मा गांधी", th="มหาตมา คานธี"), {"country": ("Q668",)},
           year=1869, noun="leader", instance_of="Q5"),
    Entity("Q81731", "person", _only(ja="紫式部"), {"country": ("Q17",)}, noun="writer", instance_of="Q5"),
    Entity("Q5682", "person", _only(es="Miguel de Cervantes"), {"country": ("Q29",)}, year=1547,
           noun="writer", instance_of="Q5"),
    Entity("Q8011", "person", _only(ar="ابن سينا", ru="Авиценна"), {}, year=980, noun="physician",
           instance_of="Q5"),
    Entity("Q7243", "person", _only(ru="Толстой, Лев Николаевич"), {"country": ("Q159",)}, year=1828,
           noun="writer", instance_of="Q5"),
    # ---- fields of study -------------------------------------------------------------------------
    Entity("Q413", "field", _t("Physics", "Physik", "Physique", "Física", "物理学",
           "物理学", "فيزياء", "भौतिक शास्त्र", "Физика", "ฟิสิกส์"),
           {"related": ("Q395",)}, instance_of="Q11862829"),
    Entity("Q395", "field", _t("Mathematics", "Mathematik", "Mathématiques", "Matemáticas", "数学",
           "数学", "رياضيات", "गणित", "Математика", "คณิตศาสตร์"),
           {"related": ("Q413",)}, instance_of="Q11862829"),
    Entity("Q2329", "field", _only(en="Chemistry", de="Chemie", fr="Chimie", es="Química", ja="化学",
           zh="化学", ru="Химия"), {"related": ("Q413",)}, instance_of="Q11862829"),
    Entity("Q21198", "field", _only(en="Computer science", de="Informatik", ja="計算機科学",
           zh="计算机科学", th="วิทยาการคอมพิวเตอร์"), {"related": ("Q395",)}, instance_of="Q11862829"),
    Entity("Q333", "field", _only(es="Astronomía", ar="علم الفلك", hi="खगोल शास्त्र"),
           {"related": ("Q413",)}, instance_of="Q11862829"),
    # ---- organizations ---------------------------------------------------------------------------
    Entity("Q1065", "org", _t("United Nations", "Vereinte Nationen", "Organisation des Nations unies",
           "Organización de las Naciones Unidas", "国際連合", "联合国", "الأمم المتحدة", "संयुक्त राष्ट्र",
           "Организация Объединённых Наций", "สหประชาชาติ"),
           {"member": ("Q142", "Q148")}, year=1945, instance_of="Q484652"),
    Entity("Q7809", "org", _only(fr="Organisation des Nations unies pour l'éducation, la science et la culture",
           es="UNESCO", ar="اليونسكو"), {"city": ("Q90",)}, year=1945, instance_of="Q484652"),
    Entity("Q458", "org", _only(de="Europäische Union", fr="Union européenne", es="Unión Europea"),
           {"member": ("Q183", "Q142", "Q29")}, year=1993, instance_of="Q484652"),
    # ---- things ----------------------------------------------------------------------------------
    Entity("Q308", "thing", _t("Mercury (planet)", "Merkur (Planet)", "Mercure (planète)", "Mercurio (planeta)",
           "水星", "水星", "عطارد (كوكب)", "बुध ग्रह", "Меркурий", "ดาวพุธ"),
           {"field": ("Q333", "Q413")}, noun="planet", instance_of="Q634"),
    Entity("Q925", "thing", _t("Mercury (element)", "Quecksilber", "Mercure (chimie)", "Mercurio (elemento)",
           "水銀", "汞", "زئبق", "पारा", "Ртуть", "ปรอท"),
           {"field": ("Q2329", "Q413")}, noun="element", instance_of="Q11344"),
    Entity("Q87576", "thing", _only(en="Emoji", ja="絵文字", zh="绘文字", th="อีโมจิ"),
           {"field": ("Q21198",), "country": ("Q17",)}, noun="pictogram", instance_of="Q17487696"),
    Entity("Q17738", "thing", _only(en="Star Wars: Episode IV – A New Hope", de="Krieg der Sterne",
           fr="Star Wars, épisode IV : Un nouvel espoir", es="Star Wars: Episode IV - Una nueva esperanza",
           ja="スター・ウォーズ エピソード4/新たなる希望"), {}, year=1977, noun="film", instance_of="Q11424"),
    Entity("Q5638", "thing", _only(en="Bus", de="Omnibus", fr="Autobus", es="Autobús", ru="Автобус"),
           {}, noun="vehicle", instance_of="Q42889"),
    Entity("Q2090", "thing", _only(ja="吉野家"), {"city": ("Q1490",)}, year=1899, noun="restaurant",
           instance_of="Q4830453"),
    Entity("Q4628", "thing", _only(de="Oktoberfest"), {"city": ("Q1726",)}, year=1810, noun="festival",
           instance_of="Q132241"),
    Entity("Q10571", "thing", _only(th="สงกรานต์"), {"country": ("Q869",)}, noun="festival",
           instance_of="Q132241"),
    Entity("Q10244", "thing", _only(hi="दीपावली"), {"country": ("Q668",)}, noun="festival",
           instance_of="Q132241"),
    Entity("Q125000001", "thing", _only(en="Chronicle of the Rhine valley"), {"river": ("Q584",)},
           noun="chronicle", instance_of="Q185867"),
)  # fmt: skip

# Items that exist in the dumps but are no article entities.
DISAMBIGUATION_QID = "Q226983"
DISAMBIGUATION_TITLES: dict[str, str] = {
    "en": "Mercury",
    "de": "Merkur (Begriffsklärung)",
    "fr": "Mercure",
    "es": "Mercurio",
    "ja": "マーキュリー",
    "zh": "水星 (消歧义)",
    "ar": "عطارد (توضيح)",
    "hi": "बुध (बहुविकल्पी)",
    "ru": "Меркурий (значения)",
    "th": "ดาวพุธ (แก้ความกำกวม)",
}
# The en category page carries a Q-id too (category items exist on Wikidata).
CATEGORY_QID = "Q7035413"

ENTITY_BY_QID: dict[str, Entity] = {e.qid: e for e in ENTITIES}

# Q-id -> {lang: title} of every article entity (namespace 0, not disambiguation).
SAMPLE_ENTITIES: dict[str, dict[str, str]] = {e.qid: dict(sorted(e.titles.items())) for e in ENTITIES}


def title_of(qid: str, lang: str) -> str | None:
    entity = ENTITY_BY_QID.get(qid)
    return entity.titles.get(lang) if entity else None


def label_of(title: str, lang: str) -> str:
    """What running text calls an entity: ``Mercury (planet)`` -> ``Mercury``, ru
    ``Эйнштейн, Альберт`` -> ``Альберт Эйнштейн``."""
    label = title
    if label.endswith(")") and " (" in label:
        label = label[: label.rindex(" (")]
    if lang == "ru" and ", " in label:
        surname, given = label.split(", ", 1)
        label = f"{given} {surname}"
    return label
