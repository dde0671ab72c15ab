"""Each default is defined once, by the settings of its stage, and every command that exposes it
takes it from there (`build` and the stage's own command alike)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import click
import pytest

from pipeline.build import STAGES, BuildSettings, build_command, build_stages
from pipeline.extract import WORK_ITEM_BYTES, extract_command
from pipeline.fetch import DEFAULT_MIRROR, fetch_command
from pipeline.options import SOURCE_DUMPS, SOURCE_SAMPLE
from pipeline.shards import build_command as shards_build_command
from pipeline.tokenizer import TrainSettings, train_command
from pipeline.vocab import VocabSettings
from pipeline.vocab import build_command as vocab_build_command
from schemas.shards import ShardSettings
from schemas.tokens import MAX_MENTION_LENGTH
from training.masking import MaskingConfig
from training.options import FinetuneOptions
from training.qa import FeatureSettings
from transforms.extract import ExtractSettings
from transforms.shards import ShardingPlan

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "transforms", "pipeline", "training")


def default(command: click.Command, flag: str) -> object:
    for param in command.params:
        if flag in getattr(param, "opts", ()):
            return param.default
    raise AssertionError(f"{command.name} has no {flag}")


def source_lines() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line in path.read_text(encoding="utf-8").splitlines():
                found.append((str(path.relative_to(ROOT)), line))
    return found


def test_vocab_defaults_come_from_vocab_settings():
    for command in (build_command, vocab_build_command):
        assert default(command, "--min-languages") == VocabSettings.min_languages
        assert default(command, "--vocab-size") == VocabSettings.vocab_size


def test_tokenizer_vocab_size_comes_from_train_settings():
    assert default(build_command, "--tokenizer-vocab-size") == TrainSettings.vocab_size
    assert default(train_command, "--vocab-size") == TrainSettings.vocab_size


def test_mirror_comes_from_the_fetch_stage():
    assert default(build_command, "--mirror") == default(fetch_command, "--mirror") == DEFAULT_MIRROR
    assert BuildSettings(langs=None, source=SOURCE_DUMPS, dump_date=None, interwiki="page-props").mirror == (
        DEFAULT_MIRROR
    )


def test_shard_defaults_come_from_shard_settings_and_plan():
    settings, plan = ShardSettings(), ShardingPlan()
    for command in (build_command, shards_build_command):
        assert default(command, "--max-seq-length") == settings.max_seq_length
        assert default(command, "--max-entity-length") == settings.max_entity_length
        assert default(command, "--max-mention-length") == settings.max_mention_length
        assert default(command, "--min-sentence-length") == settings.min_sentence_length
        assert default(command, "--shard-rows") == plan.shard_rows


def test_extract_defaults_come_from_extract_settings():
    assert default(extract_command, "--work-item-mb") * (1 << 20) == WORK_ITEM_BYTES
    assert default(extract_command, "--max-page-chars") == ExtractSettings.max_page_chars
    assert default(extract_command, "--parse-timeout") == ExtractSettings.parse_timeout_s
    assert default(extract_command, "--parse-memory-mb") == ExtractSettings.parse_memory_mb
    assert default(extract_command, "--parse-isolation") == ExtractSettings.isolation


def test_max_mention_length_is_one_constant_for_shards_and_training():
    assert ShardSettings().max_mention_length == MAX_MENTION_LENGTH
    assert MaskingConfig().max_mention_length == MAX_MENTION_LENGTH
    assert FeatureSettings().max_mention_length == MAX_MENTION_LENGTH
    finetune = {f.name: f.default for f in dataclasses.fields(FinetuneOptions)}
    assert finetune["max_mention_length"] == MAX_MENTION_LENGTH


@pytest.mark.parametrize(
    "pattern, where",
    [
        (r"16 << 20", "pipeline/extract.py"),  # WORK_ITEM_BYTES
        (r"[\"']https://dumps\.wikimedia\.org[\"']", "transforms/fetch_plan.py"),  # DEFAULT_MIRROR
        (r"\b1_?200_?000\b", "transforms/vocab.py"),  # VocabSettings.vocab_size
        (r"\b32_?000\b", "pipeline/tokenizer.py"),  # TrainSettings.vocab_size
        (r"\bMAX_MENTION_LENGTH = 30\b|max_mention_length\W.*\b30\b", "schemas/tokens.py"),
        (r"[\"']page-props[\"']", "transforms/interwiki.py"),  # PAGE_PROPS, the --interwiki default
    ],
)
def test_each_default_literal_is_written_once(pattern: str, where: str):
    hits = [
        path
        for path, line in source_lines()
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert hits == [where], hits


def test_source_has_one_vocabulary():
    for command in (build_command, extract_command):
        source = next(p for p in command.params if p.name == "source")
        assert list(source.type.choices) == [SOURCE_DUMPS, SOURCE_SAMPLE]
        assert source.default == SOURCE_DUMPS
        # The earlier spelling of build's dumps source still works.
        assert source.type.convert("mirror", source, None) == SOURCE_DUMPS


def test_the_declared_stages_are_the_stages():
    for source in (SOURCE_DUMPS, SOURCE_SAMPLE):
        for tokenizer in (None, "given.model"):
            settings = BuildSettings(
                langs=None, source=source, dump_date=None, interwiki="page-props", tokenizer=tokenizer
            )
            assert tuple(stage.name for stage in build_stages(settings)) == STAGES
