"""Hindi sample wiki: sentences of the generated articles and the hand-written pages."""

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
    L,
    Lang,
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

LANG = "hi"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "इतिहास", "see_also": "इन्हें भी देखें", "references": "सन्दर्भ"},
    reflist="{{टिप्पणीसूची}}",
    refs={
        "atlas": "{{Cite book |title=विश्व का नमूना मानचित्र |year=2024 |page=12}}",
        "hist": "{{Cite web |url=https://example.org/itihas |title=संक्षिप्त इतिहास |access-date=2026-10-01}}",
    },
    infobox={
        "country": "ज्ञानसन्दूक देश",
        "city": "ज्ञानसन्दूक शहर",
        "river": "ज्ञानसन्दूक नदी",
        "person": "ज्ञानसन्दूक व्यक्ति",
        "field": "ज्ञानसन्दूक विषय",
        "org": "ज्ञानसन्दूक संगठन",
        "thing": "ज्ञानसन्दूक विषयवस्तु",
    },
    categories={
        "country": "देश",
        "city": "शहर",
        "river": "नदियाँ",
        "person": "व्यक्ति",
        "field": "विज्ञान",
        "org": "अंतरराष्ट्रीय संगठन",
        "thing": "विषय",
    },
    nouns={
        "physicist": "भौतिक विज्ञानी",
        "leader": "राजनीतिक नेता",
        "planet": "ग्रह",
        "element": "रासायनिक तत्व",
        "festival": "त्योहार",
    },
    lead={
        "country": ["{self} {org} का सदस्य देश है।{ref:atlas}", "इसकी राजधानी {capital} है।"],
        "city": [("{self} {capital_of} की राजधानी है।", "{self} {country} का एक शहर है।"), "यह {river} के किनारे बसा है।"],
        "river": ["{self} {country} में बहने वाली एक नदी है।{ref:atlas}", "इसके तट पर {city} स्थित है।"],
        "person": [("{self} ({year}) {country} के एक {noun} थे।", "{self} एक {noun} थे।"),
                   "वे मुख्य रूप से {field} के क्षेत्र में अपने कार्य के लिए जाने जाते हैं।{ref:atlas}"],
        "field": ["{self} विज्ञान की एक शाखा है जो {related} से निकटता से जुड़ी है।{ref:atlas}"],
        "org": ["{self} एक अंतरराष्ट्रीय संगठन है जिसकी स्थापना {year} में हुई थी।{ref:atlas}"],
        "thing": ["{self} एक {noun} है।", ("इसका अध्ययन {field} में किया जाता है।", "यह {country} में मनाया जाता है।")],
    },
    body={
        "country": ["{name} का इतिहास हज़ारों वर्ष पुराना है।{ref:hist}", "यहाँ की प्रमुख नदियों में {river} शामिल है।"],
        "city": ["इस शहर का इतिहास बहुत पुराना है।{ref:hist}", "आज यह अपने संग्रहालयों, बाज़ारों और उद्यानों के लिए प्रसिद्ध है।"],
        "river": ["प्राचीन काल से इस नदी पर नावों से व्यापार होता रहा है।{ref:hist}", "इस पर कई पुल बने हैं।"],
        "person": ["{name} ने कई देशों में जीवन बिताया और कार्य किया।{ref:hist}",
                   "अनेक विद्यालयों और सड़कों का नाम उनके नाम पर रखा गया है।"],
        "field": ["विश्व भर के विश्वविद्यालयों में इसकी पढ़ाई होती है।{ref:hist}", "इसका इतिहास प्राचीन विद्वानों तक जाता है।"],
        "org": ["इसका मुख्यालय {city} में है।", "इसके सदस्यों में {member} और कई अन्य देश शामिल हैं।{ref:hist}"],
        "thing": ["इस विषय पर अनेक पुस्तकें और लेख लिखे गए हैं।{ref:hist}"],
    },
    table_headers=("राजधानी", "नदी"),
    comment="स्रोत जोड़ें",
)  # fmt: skip


def _new_delhi() -> PageSpec:
    jan = "{{Cite web |url=https://example.org/janganana |title=जनगणना 2025 |access-date=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{ज्ञानसन्दूक शहर\n| नाम = नई दिल्ली\n| देश = [[भारत]]\n}}", glue=True),
        P(
            B("नई दिल्ली"), " ", L("भारत"), " की राजधानी है।", Ref(jan, name="jan"), " यह ", L("यमुना नदी"),
            " के किनारे बसी है और ", L("दिल्ली"), " महानगर का हिस्सा है।",
        ),
        P(
            "शहर की जनसंख्या लगभग 2.5", Ent("nbsp"), "लाख है।", RefUse("jan"), " यहाँ ", B(L("राष्ट्रपति भवन")), " और ",
            L("इंडिया गेट"), " जैसे प्रसिद्ध स्थल हैं।",
        ),
        H("इतिहास"),
        Block(File("India Gate.jpg", [L("इंडिया गेट"), " का दृश्य"], options="अंगूठाकार"), glue=True),
        P("1911 में राजधानी को ", L("कोलकाता"), " से दिल्ली लाने का निर्णय हुआ और 1931 में नई दिल्ली का उद्घाटन हुआ।"),
        H("परिवहन"),
        UL(L("दिल्ली मेट्रो"), L("इंदिरा गांधी अंतरराष्ट्रीय हवाई अड्डा")),
        H("इन्हें भी देखें"),
        UL(L("मुंबई"), L("लंदन")),
        H("सन्दर्भ"),
        Block("{{टिप्पणीसूची}}"),
        Cats("भारत के शहर", ("एशिया की राजधानियाँ", "दिल्ली")),
        langlinks("Q987", LANG),
    ]  # fmt: skip
    return article("नई दिल्ली", "Q987", blocks, shortdesc="भारत की राजधानी")


def _diwali() -> PageSpec:
    blocks: list[Blk] = [
        P(
            B("दीपावली"), " या ", B("दिवाली"), " (", Lang("en", "Diwali"), ") ", L("भारत"), " का एक प्रमुख त्योहार है।",
            Ref("{{Cite book |title=भारत के पर्व |year=2015}}"),
        ),
        P("इस दिन लोग घरों में दीये जलाते हैं और ", L("लक्ष्मी"), " की पूजा करते हैं। 🪔 दीया इस पर्व का प्रतीक है।"),
        H("सन्दर्भ"),
        Block("{{टिप्पणीसूची}}"),
        Cats("भारत के त्योहार", "हिन्दू त्योहार"),
    ]  # fmt: skip
    return article("दीपावली", "Q10244", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("बुध"), " का अर्थ हो सकता है:"),
        UL([L("बुध ग्रह"), ", सूर्य के सबसे निकट का ग्रह"], [L("बुधवार"), ", सप्ताह का एक दिन"], [L("पारा"), ", एक धातु"]),
        Block("{{बहुविकल्पी}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _new_delhi(),
        _diwali(),
        _disambiguation(),
        redirect("नयी दिल्ली", "#अनुप्रेषित", "नई दिल्ली"),
        redirect("दिवाली", "#पुनर्निर्देशित", "दीपावली"),
        redirect("भारत गणराज्य", "#REDIRECT", "भारत"),
        literal(
            ns_title(LANG, 14, "एशिया की राजधानियाँ"),
            "एशिया के देशों की राजधानियाँ।\n\n[[श्रेणी:राजधानियाँ]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 3, "उदाहरण"),
            "== स्वागत ==\nविकिपीडिया पर आपका स्वागत है! [[सदस्य:Admin|Admin]] 12:00, 1 अक्टूबर 2026 (UTC)\n",
            namespace=3,
        ),
    ]
