"""Thai sample wiki: sentences of the generated articles and the hand-written pages.

Thai separates words with no spaces; a space marks the end of a clause or sentence.
"""

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

LANG = "th"

LEXICON = Lexicon(
    lang=LANG,
    headings={"history": "ประวัติ", "see_also": "ดูเพิ่ม", "references": "อ้างอิง"},
    reflist="{{รายการอ้างอิง}}",
    refs={
        "atlas": "{{cite book |title=แผนที่โลกตัวอย่าง |year=2024 |page=12}}",
        "hist": "{{cite web |url=https://example.org/prawat |title=ประวัติโดยย่อ |accessdate=2026-10-01}}",
    },
    infobox={
        "country": "กล่องข้อมูล ประเทศ",
        "city": "กล่องข้อมูล เมือง",
        "river": "กล่องข้อมูล แม่น้ำ",
        "person": "กล่องข้อมูล บุคคล",
        "field": "กล่องข้อมูล สาขาวิชา",
        "org": "กล่องข้อมูล องค์การ",
        "thing": "กล่องข้อมูล หัวข้อ",
    },
    categories={
        "country": "ประเทศ",
        "city": "เมือง",
        "river": "แม่น้ำ",
        "person": "บุคคล",
        "field": "วิทยาศาสตร์",
        "org": "องค์การระหว่างประเทศ",
        "thing": "หัวข้อ",
    },
    nouns={
        "physicist": "นักฟิสิกส์",
        "leader": "ผู้นำทางการเมือง",
        "planet": "ดาวเคราะห์",
        "element": "ธาตุเคมี",
        "pictogram": "ภาพสัญลักษณ์",
        "festival": "เทศกาล",
    },
    lead={
        "country": ["{self}เป็นประเทศสมาชิกของ{org}{ref:atlas}", "มีเมืองหลวงคือ{capital}"],
        "city": [("{self}เป็นเมืองหลวงของ{capital_of}", "{self}เป็นเมืองใน{country}"), "มี{river}ไหลผ่านใจกลางเมือง"],
        "river": ["{self}เป็นแม่น้ำสายสำคัญของ{country}{ref:atlas}", "ริมฝั่งแม่น้ำเป็นที่ตั้งของ{city}"],
        "person": [("{self} (เกิด ค.ศ. {year}) เป็น{noun}จาก{country}", "{self}เป็น{noun}"),
                   "มีชื่อเสียงจากผลงานด้าน{field}{ref:atlas}"],
        "field": ["{self}เป็นสาขาวิชาที่เกี่ยวข้องอย่างใกล้ชิดกับ{related}{ref:atlas}"],
        "org": ["{self}เป็นองค์การระหว่างประเทศที่ก่อตั้งขึ้นใน ค.ศ. {year}{ref:atlas}"],
        "thing": [("{self}เป็น{noun}ที่ศึกษาในสาขา{field}", "{self}เป็น{noun}"), "มีต้นกำเนิดใน{country}"],
    },
    body={
        "country": ["{name}มีประวัติศาสตร์ยาวนานหลายพันปี{ref:hist}", "แม่น้ำสายสำคัญได้แก่{river}"],
        "city": ["เมืองนี้มีประวัติศาสตร์ยาวนาน{ref:hist}", "ปัจจุบันมีชื่อเสียงด้านพิพิธภัณฑ์ ตลาด และสวนสาธารณะ"],
        "river": ["ตั้งแต่สมัยโบราณมีการใช้แม่น้ำในการขนส่งสินค้า{ref:hist}", "มีสะพานหลายแห่งข้ามแม่น้ำ"],
        "person": ["{name}ใช้ชีวิตและทำงานในหลายประเทศ{ref:hist}", "โรงเรียนและถนนหลายแห่งตั้งชื่อตามบุคคลนี้"],
        "field": ["มีการสอนวิชานี้ในมหาวิทยาลัยทั่วโลก{ref:hist}", "ประวัติของวิชานี้ย้อนไปถึงนักปราชญ์สมัยโบราณ"],
        "org": ["สำนักงานใหญ่ตั้งอยู่ที่{city}", "สมาชิกได้แก่{member}และประเทศอื่นอีกมาก{ref:hist}"],
        "thing": ["มีหนังสือและบทความจำนวนมากเกี่ยวกับเรื่องนี้{ref:hist}"],
    },
    table_headers=("เมืองหลวง", "แม่น้ำ"),
    comment="ต้องการแหล่งอ้างอิง",
)  # fmt: skip


def _bangkok() -> PageSpec:
    stat = "{{cite web |url=https://example.org/bangkok |title=สถิติประชากร 2568 |accessdate=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{กล่องข้อมูล เมือง\n| ชื่อ = กรุงเทพมหานคร\n| ประเทศ = [[ประเทศไทย]]\n}}", glue=True),
        P(
            B("กรุงเทพมหานคร"), "เป็นเมืองหลวงและนครที่มีประชากรมากที่สุดของ", L("ประเทศไทย"), Ref(stat, name="stat"),
            " ตั้งอยู่ริม", L("แม่น้ำเจ้าพระยา"), " มีประชากรราว 10", Ent("nbsp"), "ล้านคน",
        ),
        P(
            "ชาวต่างชาติมักเรียกเมืองนี้ว่า", L("บางกอก"), " ส่วนชื่อเต็มในภาษาไทยยาวมาก", RefUse("stat"), " ",
            L("รถโดยสารประจำทาง", "รถเมล์"), "และ", L("รถไฟฟ้าบีทีเอส"), "เป็นระบบขนส่งหลักของเมือง",
        ),
        H("ประวัติ"),
        Block(File("Wat Arun.jpg", [L("วัดอรุณราชวราราม", "วัดอรุณ"), "ยามเย็น"]), glue=True),
        P(
            L("พระบาทสมเด็จพระพุทธยอดฟ้าจุฬาโลกมหาราช", "รัชกาลที่ 1"), "ทรงสถาปนากรุงเทพมหานครเป็นราชธานีใน พ.ศ. 2325",
            Comment("ต้องการอ้างอิง"),
        ),
        H("เขตการปกครอง"),
        UL(L("เขตพระนคร"), L("เขตบางรัก"), [L("เขตปทุมวัน"), " ย่านการค้า"]),
        Block('{| class="wikitable"\n! เขต !! ประชากร\n|-\n| [[เขตบางแค]] || 190000\n|}'),
        H("ดูเพิ่ม"),
        UL(L("เชียงใหม่"), L("สงกรานต์")),
        H("อ้างอิง"),
        Block("{{รายการอ้างอิง}}"),
        Cats("เมืองหลวงในทวีปเอเชีย", ("จังหวัดในประเทศไทย", "กรุงเทพมหานคร")),
        langlinks("Q1861", LANG),
    ]  # fmt: skip
    return article("กรุงเทพมหานคร", "Q1861", blocks, shortdesc="เมืองหลวงของประเทศไทย")


def _songkran() -> PageSpec:
    blocks: list[Blk] = [
        P(
            B("สงกรานต์"), "เป็นเทศกาลขึ้นปีใหม่ตามประเพณีของ", L("ประเทศไทย"), " ตรงกับวันที่ 13 ถึง 15 เมษายนของทุกปี",
            Ref("{{cite book |title=ประเพณีไทย |year=2018}}"),
        ),
        P(
            "ผู้คนสาดน้ำใส่กันอย่างสนุกสนาน 💦 และรดน้ำขอพรผู้ใหญ่ ", L("อีโมจิ", "อีโมจิ 💦"),
            "จึงมักใช้ในข้อความช่วงเทศกาล",
        ),
        H("อ้างอิง"),
        Block("{{รายการอ้างอิง}}"),
        Cats("เทศกาลไทย"),
    ]  # fmt: skip
    return article("สงกรานต์", "Q10571", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("ดาวพุธ"), "อาจหมายถึง"),
        UL([L("ดาวพุธ"), " ดาวเคราะห์ที่อยู่ใกล้ดวงอาทิตย์ที่สุด"], [L("ปรอท"), " ธาตุเคมี"], [L("เมอร์คิวรี"), " เทพเจ้าโรมัน"]),
        Block("{{แก้ความกำกวม}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _bangkok(),
        _songkran(),
        _disambiguation(),
        redirect("บางกอก", "#เปลี่ยนทาง", "กรุงเทพมหานคร"),
        redirect("กรุงเทพ", "#REDIRECT", "กรุงเทพมหานคร"),
        redirect("ประเทศสยาม", "#เปลี่ยนทาง", "ประเทศไทย"),
        literal(
            ns_title(LANG, 14, "เมืองหลวงในทวีปเอเชีย"),
            "เมืองหลวงของประเทศในทวีปเอเชีย\n\n[[หมวดหมู่:เมืองหลวง]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 10, "กล่องข้อมูล เมือง"),
            "<includeonly>{{Infobox\n| title = {{{ชื่อ|}}}\n}}</includeonly><noinclude>{{doc}}</noinclude>\n",
            namespace=10,
        ),
    ]
