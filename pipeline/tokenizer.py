"""``mluke-data tokenizer train``: a sentencepiece unigram model from a language-balanced sample.

The sample is drawn in the launcher process, not in a Beam pipeline: the model is trained on one
machine anyway, and the sample is small and bounded. For each language the pages' paragraph text
is streamed from ``WORKDIR/pages/{lang}/*.parquet`` (through Beam's FileSystems, so gs:// works)
and a uniform sample of paragraphs is kept in a bounded pool (bottom-k random keys, seeded), then
split into sentences with ICU. Languages get sentence quotas like XLM-R's data sampling,
``q_l ~ (n_l / N) ** smoothing`` where ``n_l`` is the language's paragraph-text bytes (read from the
Parquet metadata), so small languages are up-sampled relative to their size.
"""

from __future__ import annotations

import io
import json
import math
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import click
import numpy as np
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from rich.console import Console
from rich.table import Table

from pipeline.interrupt import run_interruptibly
from pipeline.options import UserError, parse_langs_option
from pipeline.progress import StageStatus
from schemas.pages import PAGES_DIR
from schemas.tokens import WordIdConvention
from transforms.files import match_files
from transforms.sentences import split_sentences

TOKENIZER_DIR = "tokenizer"
MODEL_FILE = "sentencepiece.bpe.model"
VOCAB_FILE = "sentencepiece.bpe.vocab"
METADATA_FILE = "tokenizer.json"
TEXT_COLUMN = "paragraphs.list.element.text"


@dataclass(frozen=True)
class TrainSettings:
    vocab_size: int = 32000
    sample_sentences: int = 1_000_000
    smoothing: float = 0.7
    seed: int = 0
    # Share of the sample's characters that get pieces of their own; the rest map to <unk> (or to
    # byte pieces with byte_fallback). sentencepiece's 0.9995 is meant for one CJK language: on
    # the bundled ten-language sample it left ~1% <unk> in ja and zh, 0.9999 leaves ~0.1%.
    character_coverage: float = 0.9999
    byte_fallback: bool = False
    # sentencepiece skips longer lines; Thai "sentences" (ICU finds no boundary) can be long.
    max_sentence_length: int = 16384
    threads: int = 1
    model_type: str = "unigram"


def page_files(out: str, lang: str) -> list[str]:
    return match_files(f"{out.rstrip('/')}/{PAGES_DIR}/{lang}/*.parquet")


def languages_with_pages(out: str) -> list[str]:
    root = f"{out.rstrip('/')}/{PAGES_DIR}/"
    langs = set()
    for path in match_files(root + "*/*.parquet"):
        rest = path[len(root) :] if path.startswith(root) else path.rsplit("/", 2)[-2] + "/"
        langs.add(rest.split("/", 1)[0])
    return sorted(langs)


def _open(path: str) -> Any:
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def text_bytes(files: list[str]) -> int:
    """Uncompressed size of the paragraph text column, from the Parquet footers only."""
    total = 0
    for path in files:
        with _open(path) as handle:
            metadata = pq.ParquetFile(handle).metadata
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for column in range(row_group.num_columns):
                    chunk = row_group.column(column)
                    if chunk.path_in_schema == TEXT_COLUMN:
                        total += chunk.total_uncompressed_size
    return total


def language_quotas(sizes: dict[str, int], total: int, smoothing: float) -> dict[str, int]:
    """Sentences per language: ``total * q_l`` with ``q_l ~ (n_l / N) ** smoothing``, summing to
    ``total`` exactly (largest remainders; ties by language code)."""
    all_size = sum(sizes.values())
    if all_size <= 0:
        return dict.fromkeys(sizes, 0)
    weights = {lang: (size / all_size) ** smoothing if size > 0 else 0.0 for lang, size in sizes.items()}
    norm = sum(weights.values())
    exact = {lang: total * weight / norm for lang, weight in weights.items()}
    quotas = {lang: math.floor(value) for lang, value in exact.items()}
    left = total - sum(quotas.values())
    order = sorted(exact, key=lambda lang: (-(exact[lang] - quotas[lang]), lang))
    for lang in order[:left]:
        quotas[lang] += 1
    return quotas


def _rng(seed: int, lang: str, purpose: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(lang.encode()), purpose])


def sample_paragraphs(files: list[str], k: int, seed: int, lang: str) -> tuple[list[str], int]:
    """A uniform sample of at most ``k`` paragraph texts (bottom-k of seeded random keys, so memory
    stays bounded) and the number of paragraphs read."""
    rng = _rng(seed, lang, 0)
    keys = np.empty(0)
    texts: list[str] = []
    threshold = 1.0
    read = 0
    if k <= 0:
        return [], 0
    for path in files:
        with _open(path) as handle:
            for batch in pq.ParquetFile(handle).iter_batches(columns=[TEXT_COLUMN], batch_size=2048):
                paragraphs = batch.column(0).flatten().field("text")
                count = len(paragraphs)
                read += count
                batch_keys = rng.random(count)
                chosen = np.flatnonzero(batch_keys < threshold)
                if not len(chosen):
                    continue
                keys = np.concatenate((keys, batch_keys[chosen]))
                texts.extend(paragraphs.take(chosen).to_pylist())
                if len(keys) > 2 * k:
                    keep = np.sort(np.argpartition(keys, k)[:k])
                    keys = keys[keep]
                    texts = [texts[i] for i in keep]
                    threshold = float(keys.max())
    order = np.argsort(keys, kind="stable")[:k]
    return [texts[i] for i in order], read


def sample_sentences(paragraphs: list[str], lang: str, quota: int, seed: int) -> list[str]:
    """ICU sentences of the sampled paragraphs; ``quota`` of them at random when there are more."""
    sentences = [
        paragraph[start:end].replace("\n", " ").replace("\r", " ")
        for paragraph in paragraphs
        for start, end in split_sentences(paragraph, lang)
    ]
    if len(sentences) > quota:
        keep = np.sort(_rng(seed, lang, 1).choice(len(sentences), size=quota, replace=False))
        sentences = [sentences[i] for i in keep]
    return sentences


def train_model(sentences: list[str], settings: TrainSettings) -> bytes:
    """Train the sentencepiece model; the XLM-R layout <unk>=0 <s>=1 </s>=2, no <pad> piece."""
    import sentencepiece as spm

    spm.set_random_generator_seed(settings.seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type=settings.model_type,
            vocab_size=settings.vocab_size,
            character_coverage=settings.character_coverage,
            byte_fallback=settings.byte_fallback,
            # Our sample is the bound already; sentencepiece accepts only 0 or > 100 here.
            input_sentence_size=max(settings.sample_sentences, 101),
            shuffle_input_sentence=True,
            max_sentence_length=settings.max_sentence_length,
            num_threads=settings.threads,
            # A small sample may not support the full size: take what it gives (tokenizer.json
            # records the real piece count).
            hard_vocab_limit=False,
            unk_id=0,
            bos_id=1,
            eos_id=2,
            pad_id=-1,
            minloglevel=2,
        )
    except RuntimeError as error:
        raise UserError(f"sentencepiece training failed: {str(error).strip().splitlines()[-1]}") from error
    return model.getvalue()


def vocab_text(model_proto: bytes) -> str:
    """The ``.vocab`` listing sentencepiece writes next to a model: piece TAB score per line."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model_proto)
    return "".join(f"{piece.piece}\t{piece.score:g}\n" for piece in proto.pieces)


def _write(path: str, data: bytes) -> None:
    with FileSystems.create(path) as handle:
        handle.write(data)


def train_tokenizer(out: str, langs: list[str] | None, settings: TrainSettings) -> dict[str, Any]:
    """Sample, train and write WORKDIR/tokenizer/; returns the metadata written to tokenizer.json."""
    available = languages_with_pages(out)
    if not available:
        raise UserError(f"no pages under {out.rstrip('/')}/{PAGES_DIR}; run `mluke-data extract` first")
    if langs is None:
        langs = available
    missing = [lang for lang in langs if lang not in available]
    if missing:
        raise UserError(
            f"no pages for {','.join(missing)} under {out.rstrip('/')}/{PAGES_DIR}; "
            f"run `mluke-data extract --langs {','.join(missing)}` first"
        )
    with StageStatus("tokenizer", "reading sizes") as status:
        return _train_tokenizer(out, langs, settings, status)


def _train_tokenizer(
    out: str, langs: list[str], settings: TrainSettings, status: StageStatus
) -> dict[str, Any]:
    import hashlib

    import sentencepiece as spm

    files = {lang: page_files(out, lang) for lang in langs}
    sizes = {lang: text_bytes(files[lang]) for lang in langs}
    quotas = language_quotas(sizes, settings.sample_sentences, settings.smoothing)
    sentences: list[str] = []
    languages: dict[str, Any] = {}
    all_size = sum(sizes.values()) or 1
    for index, lang in enumerate(sorted(langs), 1):
        status.update(f"sampling {lang} ({index}/{len(langs)} languages)")
        paragraphs, read = sample_paragraphs(files[lang], quotas[lang], settings.seed, lang)
        chosen = sample_sentences(paragraphs, lang, quotas[lang], settings.seed)
        sentences.extend(chosen)
        languages[lang] = {
            "files": len(files[lang]),
            "text_bytes": sizes[lang],
            "share": round(sizes[lang] / all_size, 6),
            "quota": quotas[lang],
            "paragraphs_read": read,
            "paragraphs_sampled": len(paragraphs),
            "sentences": len(chosen),
        }
    if not sentences:
        raise UserError(f"the pages of {','.join(langs)} hold no paragraph text to train a tokenizer on")
    status.update(f"training sentencepiece on {len(sentences):,} sentences")
    model_proto = run_interruptibly(train_model, sentences, settings)
    processor = spm.SentencePieceProcessor(model_proto=model_proto)
    convention = WordIdConvention(processor.get_piece_size())
    metadata: dict[str, Any] = {
        "model_file": MODEL_FILE,
        "sha256": hashlib.sha256(model_proto).hexdigest(),
        "pieces": convention.piece_count,
        "word_vocab_size": convention.vocab_size,
        "mask_id": convention.mask_id,
        "word_id_convention": "xlm-r: <s>=0 <pad>=1 </s>=2 <unk>=3, piece i -> i + 1, <mask> = pieces + 1",
        "settings": asdict(settings),
        "sample_sentences": len(sentences),
        "languages": languages,
        "sentencepiece_version": spm.__version__,
    }
    directory = f"{out.rstrip('/')}/{TOKENIZER_DIR}"
    _write(f"{directory}/{MODEL_FILE}", model_proto)
    _write(f"{directory}/{VOCAB_FILE}", vocab_text(model_proto).encode("utf-8"))
    text = json.dumps(metadata, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    _write(f"{directory}/{METADATA_FILE}", text.encode("utf-8"))
    return metadata


def print_summary(metadata: dict[str, Any], out: str) -> None:
    table = Table(
        title=f"tokenizer: {metadata['pieces']:,} pieces, {metadata['sample_sentences']:,} sample sentences"
    )
    for name in ("lang", "text MB", "share", "sample share", "sentences"):
        table.add_column(name, justify="left" if name == "lang" else "right")
    total = metadata["sample_sentences"] or 1
    for lang, info in metadata["languages"].items():
        table.add_row(
            lang,
            f"{info['text_bytes'] / 1e6:,.1f}",
            f"{info['share']:.1%}",
            f"{info['sentences'] / total:.1%}",
            f"{info['sentences']:,}",
        )
    Console().print(table)
    requested = metadata["settings"]["vocab_size"]
    if metadata["pieces"] < requested:
        click.echo(
            f"note: the sample supports {metadata['pieces']:,} pieces, fewer than --vocab-size {requested:,}"
        )
    click.echo(f"wrote {out.rstrip('/')}/{TOKENIZER_DIR}/{MODEL_FILE} (sha256 {metadata['sha256'][:16]}...)")


@click.group(
    "tokenizer",
    help="Train the sentencepiece tokenizer (when not using XLM-R's).",
)
def tokenizer_group() -> None:
    pass


@tokenizer_group.command(
    "train",
    help="""Train a sentencepiece unigram model on a language-balanced sample of WORKDIR/pages.

Writes WORKDIR/tokenizer/sentencepiece.bpe.model (+ .vocab) and tokenizer.json. Word ids follow
XLM-R's convention (<s>=0 <pad>=1 </s>=2 <unk>=3, piece i -> i + 1, <mask> last). The same pages
and flags give a byte-identical model.

\b
Examples:
  mluke-data tokenizer train --out ./out
  mluke-data tokenizer train --out ./out --langs en,ja,th --vocab-size 64000
  mluke-data tokenizer train --out ./out --character-coverage 1.0
  mluke-data tokenizer train --out ./out --byte-fallback
""",
)
@click.option("--out", "out", required=True, help="Work directory (local path or gs://...).")
@click.option(
    "--vocab-size",
    type=click.IntRange(min=8),
    default=TrainSettings.vocab_size,
    show_default=True,
    help="Sentencepiece pieces (the word vocabulary has two more ids: <pad> and <mask>).",
)
@click.option(
    "--langs", default=None, help="Comma-separated language codes (default: every language with pages)."
)
@click.option(
    "--sample-sentences",
    type=click.IntRange(min=1),
    default=TrainSettings.sample_sentences,
    show_default=True,
    help="Sentences in the training sample, over all languages.",
)
@click.option(
    "--smoothing",
    type=click.FloatRange(min=0.0, max=1.0),
    default=TrainSettings.smoothing,
    show_default=True,
    help="Language sampling exponent: q ~ size ** smoothing (1 = proportional, 0 = uniform).",
)
@click.option("--seed", type=int, default=TrainSettings.seed, show_default=True, help="Sampling seed.")
@click.option(
    "--character-coverage",
    type=click.FloatRange(min=0.9, max=1.0),
    default=TrainSettings.character_coverage,
    show_default=True,
    help="Share of the sample's characters that get their own piece; rarer ones become <unk> "
    "(1.0: every character seen).",
)
@click.option(
    "--byte-fallback/--no-byte-fallback",
    default=TrainSettings.byte_fallback,
    show_default=True,
    help="Spell characters without a piece as UTF-8 byte pieces instead of <unk> (256 pieces).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=TrainSettings.threads,
    show_default=True,
    help="sentencepiece training threads (the model depends on this number; 1 is the reference).",
)
@click.option("--json", "as_json", is_flag=True, help="Print tokenizer.json instead of a table.")
def train_command(
    out: str,
    vocab_size: int,
    langs: str | None,
    sample_sentences: int,
    smoothing: float,
    seed: int,
    character_coverage: float,
    byte_fallback: bool,
    threads: int,
    as_json: bool,
) -> None:
    lang_list = parse_langs_option(langs)
    settings = TrainSettings(
        vocab_size=vocab_size,
        sample_sentences=sample_sentences,
        smoothing=smoothing,
        seed=seed,
        character_coverage=character_coverage,
        byte_fallback=byte_fallback,
        threads=threads,
    )
    metadata = train_tokenizer(out, lang_list, settings)
    if as_json:
        click.echo(json.dumps(metadata, indent=1, sort_keys=True, ensure_ascii=False))
    else:
        print_summary(metadata, out)
