"""A small multilingual sentencepiece model for tests, trained once per test process."""

from __future__ import annotations

import functools
import io
import os
import tempfile

import sentencepiece as spm

CORPUS: dict[str, list[str]] = {
    "en": [
        "Berlin is the capital and largest city of Germany, both by area and by population.",
        "The city lies on the banks of the rivers Spree and Havel in the northeast of the country.",
        "Tokyo is the capital of Japan and one of the most populous metropolitan areas in the world.",
        "The Amazon River in South America is the largest river by discharge volume of water.",
        "Marie Curie was a physicist and chemist who conducted pioneering research on radioactivity.",
        "She was the first woman to win a Nobel Prize and the only person to win it in two sciences.",
        "The Eiffel Tower was built for the 1889 World's Fair held in Paris, France.",
        "Mount Everest, on the border between Nepal and China, is the highest mountain above sea level.",
        "The Roman Empire controlled the Mediterranean Sea for several centuries.",
        "Albert Einstein developed the theory of relativity while working in Bern, Switzerland.",
        "In 1969 the crew of Apollo 11 became the first people to walk on the Moon.",
        "The Great Wall of China (built over many dynasties) stretches across northern China.",
        "Yes! We can do it, said the crowd. Why not? Everything is possible.",
        "The festival ended with fireworks 🎉 over the harbour and everyone smiled 😀.",
    ],
    "de": [
        "Berlin ist die Hauptstadt und ein Land der Bundesrepublik Deutschland.",
        "Die Stadt ist mit rund 3,8 Millionen Einwohnern die bevölkerungsreichste Gemeinde des Landes.",
        "Der Rhein ist einer der längsten und wichtigsten Flüsse in Mitteleuropa.",
        "Johann Wolfgang von Goethe war ein deutscher Dichter und Naturforscher.",
        "Die Universität Heidelberg wurde im Jahr 1386 gegründet und ist die älteste Hochschule Deutschlands.",
        "München liegt an der Isar und ist die Landeshauptstadt des Freistaates Bayern.",
        "Die Zugspitze ist mit einer Höhe von 2962 Metern der höchste Berg Deutschlands.",
        "Im Winter fällt in den Alpen häufig viel Schnee, und viele Menschen fahren Ski.",
    ],
    "ja": [
        "東京都は日本の首都であり、人口は約千四百万人である。",
        "富士山は静岡県と山梨県にまたがる活火山で、標高は三千七百七十六メートルである。",
        "京都は長い間日本の都として栄え、多くの寺院や神社が残っている。",
        "日本語は主に日本で話されている言語で、漢字と平仮名と片仮名を使って書かれる。",
        "新幹線は日本の主要都市を結ぶ高速鉄道で、千九百六十四年に開業した。",
        "大阪は関西地方の中心都市であり、商業の町として知られている。",
        "夏目漱石は明治時代の小説家で、代表作に「吾輩は猫である」がある。",
        "北海道は日本の最も北にある島で、冬は雪が多く寒い。",
        "𠮷野家は牛丼を主力商品とする飲食店のチェーンである。",
    ],
    "zh": [
        "北京是中华人民共和国的首都，也是全国的政治和文化中心。",
        "长江是亚洲最长的河流，全长约六千三百公里。",
        "上海位于长江入海口，是中国最大的经济中心之一。",
        "孔子是春秋时期的思想家和教育家，儒家学派的创始人。",
        "长城是古代中国为抵御北方游牧民族而修建的军事工程。",
        "汉字是世界上使用时间最长的文字之一。",
        "黄河被称为中华民族的母亲河。",
        "台北是台湾最大的城市，有许多著名的夜市。",
    ],
    "th": [
        "กรุงเทพมหานครเป็นเมืองหลวงและเมืองที่มีประชากรมากที่สุดของประเทศไทย",
        "แม่น้ำเจ้าพระยาไหลผ่านใจกลางกรุงเทพมหานครลงสู่อ่าวไทย",
        "ภาษาไทยเป็นภาษาราชการของประเทศไทยและใช้อักษรไทยในการเขียน",
        "เชียงใหม่เป็นเมืองใหญ่ทางภาคเหนือของประเทศไทย มีวัดเก่าแก่จำนวนมาก",
        "ประเทศไทยมีพรมแดนติดกับพม่า ลาว กัมพูชา และมาเลเซีย",
        "อาหารไทยมีชื่อเสียงไปทั่วโลก เช่น ต้มยำกุ้งและผัดไทย",
    ],
    "ar": [
        "القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها من حيث عدد السكان.",
        "يعد نهر النيل أطول نهر في العالم، ويمر عبر عدة دول في أفريقيا.",
        "اللغة العربية هي إحدى اللغات الرسمية في الأمم المتحدة.",
        "تقع مدينة دمشق في سوريا وهي من أقدم المدن المأهولة في العالم.",
        "هل تعرف أين تقع مدينة الرياض؟ إنها عاصمة المملكة العربية السعودية.",
        "كان ابن سينا طبيبا وفيلسوفا مشهورا في العصر الذهبي للإسلام.",
    ],
    "hi": [
        "नई दिल्ली भारत की राजधानी है और यह देश का एक बड़ा शहर है।",
        "गंगा नदी भारत की सबसे पवित्र और लंबी नदियों में से एक है।",
        "हिन्दी भारत में सबसे अधिक बोली जाने वाली भाषा है।",
        "ताजमहल आगरा में स्थित एक प्रसिद्ध मकबरा है जिसे शाहजहाँ ने बनवाया था।",
        "मुंबई भारत की आर्थिक राजधानी मानी जाती है।",
        "महात्मा गांधी ने भारत की स्वतंत्रता के लिए अहिंसक आंदोलन का नेतृत्व किया।",
    ],
    "ru": [
        "Москва — столица Российской Федерации и крупнейший по численности населения город страны.",
        "Волга — самая длинная река в Европе, она впадает в Каспийское море.",
        "Лев Толстой написал роман «Война и мир» в шестидесятых годах девятнадцатого века.",
        "Санкт-Петербург был основан Петром Первым в 1703 году на берегах Невы.",
        "Байкал — самое глубокое озеро на планете и крупнейший природный резервуар пресной воды.",
        "Зимой в Сибири очень холодно, а летом бывает жарко.",
    ],
}

# Pieces in the test model (a soft limit: a small corpus may give fewer).
TEST_VOCAB_SIZE = 1200


def corpus_sentences() -> list[str]:
    return [sentence for lang in sorted(CORPUS) for sentence in CORPUS[lang]]


@functools.lru_cache(maxsize=1)
def trained_model_dir() -> str:
    """A directory holding ``sentencepiece.bpe.model`` trained on CORPUS (once per process)."""
    directory = tempfile.mkdtemp(prefix="mluke-spm-")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus_sentences() * 2),
        model_writer=model,
        vocab_size=TEST_VOCAB_SIZE,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    with open(os.path.join(directory, "sentencepiece.bpe.model"), "wb") as handle:
        handle.write(model.getvalue())
    return directory


def trained_model_file() -> str:
    return os.path.join(trained_model_dir(), "sentencepiece.bpe.model")
