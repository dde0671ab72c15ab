"""Japanese sample wiki: sentences of the generated articles and the hand-written pages."""

from __future__ import annotations

from pipeline.sample.content_base import (
    UL,
    B,
    Blk,
    Block,
    Cats,
    Comment,
    File,
    H,
    I,
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

LANG = "ja"

LEXICON = Lexicon(
    lang=LANG,
    sep="",
    headings={"history": "歴史", "see_also": "関連項目", "references": "脚注"},
    reflist="{{Reflist}}",
    refs={
        "atlas": "{{Cite book |和書 |title=世界のサンプル地図帳 |year=2024 |page=12}}",
        "hist": "{{Cite web |url=https://example.org/rekishi |title=簡単な歴史 |accessdate=2026-10-01}}",
    },
    infobox={
        "country": "基礎情報 国",
        "city": "Infobox 都市",
        "river": "Infobox 河川",
        "person": "Infobox 人物",
        "field": "Infobox 学問",
        "org": "Infobox 組織",
        "thing": "Infobox 話題",
    },
    categories={
        "country": "国",
        "city": "都市",
        "river": "河川",
        "person": "人物",
        "field": "科学",
        "org": "国際機関",
        "thing": "話題",
    },
    nouns={
        "physicist": "物理学者",
        "philosopher": "思想家",
        "writer": "作家",
        "planet": "惑星",
        "element": "元素",
        "pictogram": "絵記号",
        "film": "映画",
        "restaurant": "牛丼チェーン",
    },
    lead={
        "country": ["{self}は、{org}に加盟する国家である。{ref:atlas}", "首都は{capital}である。"],
        "city": [("{self}は、{capital_of}の首都である。", "{self}は、{country}の都市である。"), "市内を{river}が流れる。"],
        "river": ["{self}は、{country}を流れる河川である。{ref:atlas}", "流域には{city}がある。"],
        "person": [("{self}（{year}年生まれ）は、{country}の{noun}である。", "{self}は、{country}の{noun}である。"),
                   "主に{field}の分野で知られる。{ref:atlas}"],
        "field": ["{self}は、{related}と密接に関係する学問である。{ref:atlas}"],
        "org": ["{self}は、{year}年に設立された国際機関である。{ref:atlas}"],
        "thing": [("{self}は、{field}で研究される{noun}である。", "{self}は、{year}年に発表された{noun}である。",
                   "{self}は、{noun}である。")],
    },
    body={
        "country": ["{name}の歴史は数千年にわたる。{ref:hist}", "主要な河川として{river}がある。"],
        "city": ["{name}の歴史は古く、多くの史跡が残る。{ref:hist}", "現在は博物館や市場、公園で知られている。"],
        "river": ["古くから水運に利用されてきた。{ref:hist}", "多くの橋が架けられている。"],
        "person": ["{name}は複数の国で活動した。{ref:hist}", "多くの学校や通りにその名が付けられている。"],
        "field": ["{name}は世界中の大学で教えられている。{ref:hist}", "その起源は古代の学者にさかのぼる。"],
        "org": ["本部は{city}に置かれている。", "加盟国には{member}などがある。{ref:hist}"],
        "thing": ["{name}については多くの書籍や論文がある。{ref:hist}", "{country}と深い関わりを持つ。"],
    },
    table_headers=("首都", "河川"),
    comment="出典を追加してください",
)  # fmt: skip


def _tokyo() -> PageSpec:
    gaiyou = "{{Cite web |url=https://example.org/tokyo |title=東京都の概要 |accessdate=2026-10-01}}"
    blocks: list[Blk] = [
        Block("{{基礎情報 都道府県\n| 都道府県 = 東京都\n| 国 = [[日本]]\n| 人口 = 14000000\n}}", glue=True),
        P(
            B("東京都"), "（とうきょうと、", Lang("en", "Tokyo Metropolis"), "）は、", L("日本"), "の首都である。",
            Ref(gaiyou, name="gaiyou"), "人口は約1400万人で、", L("日本"), "語の中心地でもある。",
        ),
        P(
            "都内には", L("東京"), "湾に面した港があり、", L("バス (交通機関)", "バス"), "や鉄道の路線網が発達している。",
            RefUse("gaiyou"), "牛丼チェーンの", L("吉野家", "𠮷野家"), "も", L("中央区 (東京都)", "中央区"), "で創業した。",
        ),
        H("歴史"),
        Block(File("Tokyo Tower.jpg", [L("東京タワー"), "と都心の夜景"]), glue=True),
        P("江戸時代には", L("江戸"), "と呼ばれ、1868年に現在の名称となった。", Comment("要出典")),
        H("交通"),
        UL(L("東京駅"), [L("新宿駅"), "（世界一の乗降客数）"], [L("東京国際空港", "羽田空港"), "と", L("成田国際空港", "成田空港")]),
        Block('{| class="wikitable"\n! 区 !! 人口\n|-\n| [[世田谷区]] || 940000\n|-\n| [[練馬区]] || 740000\n|}'),
        H("関連項目"),
        UL(L("京都市"), L("ロンドン")),
        H("脚注"),
        Block("{{Reflist}}"),
        Cats("日本の都道府県", ("日本の首都", "とうきよう")),
        langlinks("Q1490", LANG),
    ]  # fmt: skip
    return article("東京都", "Q1490", blocks, shortdesc="日本の首都")


def _yoshinoya() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{基礎情報 会社\n| 社名 = 株式会社𠮷野家\n| 本社所在地 = [[東京都]]\n}}", glue=True),
        P(
            B("吉野家"), "（よしのや）は、", L("牛丼"), "を主力商品とする", L("日本"), "の飲食店チェーンである。",
            Ref("{{Cite web |url=https://example.org/yoshinoya |title=会社概要}}"),
        ),
        P("正式な商号では「吉」ではなく「𠮷」（つちよし）の字を用いる。1899年に", L("東京"), "の魚河岸で創業した。"),
        H("脚注"),
        Block("{{Reflist}}"),
        Cats("日本の飲食店チェーン", "東京都の企業"),
    ]  # fmt: skip
    return article("吉野家", "Q2090", blocks)


def _murasaki() -> PageSpec:
    blocks: list[Blk] = [
        Block("{{Infobox 作家\n| name = 紫式部\n| 時代 = [[平安時代]]\n}}", glue=True),
        P(
            B("紫式部"), "（むらさきしきぶ）は、", L("平安時代"), "中期の作家・歌人である。『", L("源氏物語"),
            "』の作者として知られる。", Ref("{{Cite book |和書 |title=平安文学入門 |year=2012}}"),
        ),
        P("父は学者の", L("藤原為時"), "で、幼いころから漢籍に親しんだ。", I("源氏物語"), "は現在も多くの言語に翻訳されている。"),
        H("脚注"),
        Block("{{Reflist}}"),
        Cats("平安時代の作家", "日本の歌人"),
    ]  # fmt: skip
    return article("紫式部", "Q81731", blocks)


def _disambiguation() -> PageSpec:
    blocks: list[Blk] = [
        P(B("マーキュリー"), "（Mercury）は、以下のものを指す。"),
        UL([L("水星"), " - 太陽系の惑星"], [L("水銀"), " - 元素"], [L("メルクリウス"), " - ローマ神話の神"]),
        Block("{{Aimai}}"),
    ]  # fmt: skip
    return article(DISAMBIGUATION_TITLES[LANG], DISAMBIGUATION_QID, blocks, disambiguation=True)


def hand_pages() -> list[PageSpec]:
    return [
        _tokyo(),
        _yoshinoya(),
        _murasaki(),
        _disambiguation(),
        redirect("トウキョウ", "#転送", "東京都"),
        redirect("東京", "#REDIRECT", "東京都"),
        redirect("日本国", "#リダイレクト", "日本"),
        literal(
            ns_title(LANG, 14, "日本の首都"),
            "日本の首都に関するカテゴリ。\n\n[[Category:首都|にほん]]\n",
            namespace=14,
        ),
        literal(
            ns_title(LANG, 3, "例"),
            "== ようこそ ==\nウィキペディアへようこそ！署名をお忘れなく。[[利用者:Admin|Admin]] 2026年10月1日 (木) 12:00 (UTC)\n",
            namespace=3,
        ),
    ]
