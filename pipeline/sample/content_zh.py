"""Chinese sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
    UL,
    B,
    Blk,
    Block,
    Cats,
    Conv,
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

LANG = "zh"

LEXICON = Lexicon(
    lang=LANG,
    sep="",
    headings={"history": "历史", "see_also": "参见", "references": "参考文献"},
    reflist="{{Reflist}}",
    refs={
        "atlas": "{{Cite book |title=世界示例地图集 |year=2024 |page=12}}",
        "hist": "{{Cite web |url=https://example.org/lishi |title=简史 |accessdate=2026-10-01}}",
    },
    infobox={
        "country": "Infobox country",
        "city": "Infobox settlement",
        "river": "Infobox river",
        "person": "Infobox person",
        "field": "Infobox academic discipline",
        "org": "Infobox organization",
        "thing": "Infobox topic",
    },
    categories={
        "country": "国家",
        "city": "城市",
        "river": "河流",
        "person": "人物",
        "field": "科学",
        "org": "国际组织",
        "thing": "主题",
    },
    nouns={
        "physicist": "物理学家",
        "philosopher": "思想家",
        "planet": "行星",
        "element": "化学元素",
        "pictogram": "图形符号",
    },
    lead={
        "country": ["{self}是{org}的会员国。{ref:atlas}", "首都为{capital}。"],
        "city": [("{self}是{capital_of}的首都。", "{self}是{country}的城市。"), "{river}流经市区。"],
        "river": ["{self}是流经{country}的河流。{ref:atlas}", "沿岸城市包括{city}。"],
        "person": [("{self}（{year}年出生）是{country}的{noun}。", "{self}是{country}的{noun}。"),
                   "主要研究领域为{field}。{ref:atlas}"],
        "field": ["{self}是与{related}密切相关的学科。{ref:atlas}"],
        "org": ["{self}是成立于{year}年的国际组织。{ref:atlas}"],
        "thing": [("{self}是{field}研究的{noun}。", "{self}是{noun}。")],
    },
    body={
        "country": ["{name}拥有数千年的历史。{ref:hist}", "主要河流有{river}。"],
        "city": ["{name}历史悠久，保存有许多古迹。{ref:hist}", "如今以博物馆、市场和公园闻名。"],
        "river": ["自古以来就是重要的航运通道。{ref:hist}", "河上建有多座桥梁。"],
        "person": ["{name}曾在多个国家生活和工作。{ref:hist}", "许多学校和街道以其名字命名。"],
        "field": ["{name}在世界各地的大学中讲授。{ref:hist}", "其起源可以追溯到古代学者。"],
        "org": ["总部设在{city}。", "成员国包括{member}等国家。{ref:hist}"],
        "thing": ["关于{name}有大量书籍和论文。{ref:hist}", "它起源于{country}。"],
    },
    table_headers=("首都", "河流"),
    comment="请补充来源",
)  # fmt: skip


def _computer_science() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox academic discipline\n| name = 计算机科学\n}}", glue=True),
        P(
            B("计算机科学"), "（", Lang("en", "Computer science"), "）是研究", Conv("计算机", "計算機"), "及其相关现象的学科。",
            Ref("{{Cite book |title=计算机科学导论 |year=2022}}", name="intro"),
        ),
        P(
            "它与", L("数学"), "和", L("物理学"), "关系密切，常用的编程语言有", Conv("C语言"), "和", Conv("Python"), "等。",
            RefUse("intro"),
        ),
        H("历史"),
        P(
            "早期的", Conv("电子计算机", "電子計算機"), "出现于20世纪40年代。", L("艾伦·图灵", "图灵"),
            "被视为该学科的奠基人之一。",
        ),
        H("分支"),
        UL(L("算法"), L("人工智能"), [L("数据库"), "与", L("计算机网络")]),
        H("参考文献"),
        Block("{{Reflist}}"),
        Cats("计算机科学", ("学科", "计算机科学")),
        langlinks("Q21198", LANG),
    ]  # fmt: skip
    return article("计算机科学", "Q21198", blocks, shortdesc="研究计算机的学科")


def _beijing() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox settlement\n| name = 北京市\n| country = [[中华人民共和国]]\n}}", glue=True),
        P(
            B("北京市"), "，简称", B("京"), "，是", L("中华人民共和国"), "的首都。",
            Ref("{{Cite web |url=https://example.org/beijing |title=北京概况}}"),
        ),
        P("市内有", L("长城", "万里长城"), "、", L("故宫"), "等名胜古迹，", Conv("天安门", "天安門"), "广场位于市中心。"),
        Block(File("Beijing skyline.jpg", [L("北京市"), "的天际线"])),
        H("历史"),
        P("北京曾长期作为", L("元朝"), "、", L("明朝"), "和", L("清朝"), "的都城。"),
        H("参见"),
        UL(L("上海"), L("东京都")),
        H("参考文献"),
        Block("{{Reflist}}"),
        Cats("中华人民共和国直辖市", "亚洲首都"),
        langlinks("Q956", LANG),
    ]  # fmt: skip
    return article("北京市", "Q956", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("水星"), "可以指："),
        UL([L("水星"), "，太阳系的行星"], [L("汞"), "，俗称水银的化学元素"], [L("墨丘利"), "，罗马神话中的神"]),
        Block("{{disambig}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _computer_science(),
        _beijing(),
        _disambiguation(),
        redirect("北京", "#重定向", "北京市"),
        redirect("中国", "#REDIRECT", "中华人民共和国"),
        redirect("上海", "#重定向", "上海市"),
        literal(ns_title(LANG, 14, "亚洲首都"), "亚洲各国的首都。\n\n[[分类:首都]]\n", namespace=14),
        literal(
            ns_title(LANG, 10, "Infobox city"),
            "<includeonly>{{Infobox\n| title = {{{name|}}}\n}}</includeonly><noinclude>{{Documentation}}</noinclude>\n",
            namespace=10,
        ),
    ]
