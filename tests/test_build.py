"""`mluke-data build` on the bundled sample: shards, determinism, skipping, verification, loading."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from schemas.shards import SHARD_SCHEMA, Manifest, ShardMetadata
from schemas.tokens import BOS_ID, EOS_ID

BUILD = ["build", "--source", "sample", "--tokenizer-vocab-size", "2000", "--shard-rows", "16", "--json"]


def invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    # stdout (the summary, JSON); stage headers and progress go to stderr, shown on failure.
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("build")
    code, output = invoke([*BUILD, "--out", str(root), "--workers", "2"])
    assert code == 0, output
    return root


def shard_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "shards").rglob("*")) if p.is_file()
    }


def test_summary_and_stage_records(built):
    code, output = invoke([*BUILD, "--out", str(built), "--workers", "2"])
    assert code == 0, output
    summary = json.loads(output)
    assert {row["stage"]: row["status"] for row in summary["stages"]} == {
        "fetch": "sample",
        "extract": "skipped",
        "vocab": "skipped",
        "tokenizer": "skipped",
        "shards": "skipped",
        "verify": "ok",
    }
    assert set(summary["languages"]) == {"ar", "de", "en", "es", "fr", "hi", "ja", "ru", "th", "zh"}
    for row in summary["languages"].values():
        assert row["pages"] > 0 and row["examples"] > 0 and row["mentions"] > 0


def test_shards_follow_the_contract(built):
    manifest = Manifest.from_json((built / "shards" / "_manifest.json").read_text())
    assert len({entry.lang for entry in manifest.shards}) == 10
    en = [entry for entry in manifest.shards if entry.lang == "en"]
    assert len(en) > 1 and all(entry.path.startswith("shards/en/en-") for entry in en)
    # Exact row ranges: shards of a language differ by at most one row, none above --shard-rows.
    assert max(e.rows for e in en) - min(e.rows for e in en) <= 1 and max(e.rows for e in en) <= 16
    assert not (built / "shards" / ".parts").exists()
    metadata = ShardMetadata.from_json((built / "shards" / "_metadata" / "ja.json").read_text())
    assert metadata.settings.max_seq_length == 512 and metadata.examples > 0
    table = pa.ipc.open_file(str(sorted((built / "shards" / "ja").glob("*.arrow"))[0])).read_all()
    assert table.schema.equals(SHARD_SCHEMA)
    assert set(table.column("lang").to_pylist()) == {"ja"}
    # A single shard says what it was built with.
    schema_metadata = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert schema_metadata["mluke.tokenizer_sha256"] == metadata.tokenizer_sha256 == manifest.tokenizer_sha256
    assert schema_metadata["mluke.entity_vocab_sha256"] == manifest.entity_vocab_sha256
    assert json.loads(schema_metadata["mluke.settings"])["max_seq_length"] == 512
    for row in table.to_pylist():
        assert row["word_ids"][0] == BOS_ID and row["word_ids"][-1] == EOS_ID
        assert len(row["word_ids"]) <= 512 and 0 < len(row["entity_ids"]) <= 128
        for start, end in zip(row["entity_starts"], row["entity_ends"], strict=True):
            assert 1 <= start < end <= len(row["word_ids"]) - 1


def test_the_sample_teaches_the_truth(built):
    """Each language's examples come from many pages, none above 10% of them, and the top of the
    entity vocabulary is made of entities linked in many languages."""
    for folder in sorted(
        p for p in (built / "shards").iterdir() if p.is_dir() and not p.name.startswith("_")
    ):
        pages = ds.dataset(str(folder), format="arrow").to_table(columns=["page_id"]).column("page_id")
        counts = Counter(pages.to_pylist())
        assert len(counts) >= 20, folder.name
        assert max(counts.values()) <= 0.1 * len(pages), (folder.name, counts.most_common(2), len(pages))
    lines = (built / "vocab" / "entity_vocab.jsonl").read_text().splitlines()
    top = [json.loads(line) for line in lines[4:14]]
    assert all(len({lang for _, lang in entity["entities"]}) >= 8 for entity in top), top


def test_loadable_with_the_standard_one_liners(built, tmp_path):
    """The readers the README names, exactly as written there, on the folders as built."""
    manifest = Manifest.from_json((built / "shards" / "_manifest.json").read_text())
    rows = {lang: sum(e.rows for e in manifest.shards if e.lang == lang) for lang in ("en", "ja")}
    # Only shard files in a language folder.
    assert {p.suffix for p in (built / "shards" / "en").iterdir()} == {".arrow"}
    dataset = ds.dataset(str(built / "shards" / "en"), format="arrow")
    assert dataset.count_rows() == rows["en"]
    datasets = pytest.importorskip("datasets")
    cache = str(tmp_path / "hf")
    loaded = datasets.load_dataset(
        "arrow", data_dir=str(built / "shards" / "en"), split="train", cache_dir=cache
    )
    assert len(loaded) == rows["en"] and loaded[0]["word_ids"][0] == BOS_ID
    # The dataset card names one config per language.
    ja = datasets.load_dataset(str(built / "shards"), "ja", split="train", cache_dir=cache)
    assert len(ja) == rows["ja"] and set(ja["lang"]) == {"ja"}
    assert sorted(datasets.get_dataset_config_names(str(built / "shards"))) == sorted(
        {e.lang for e in manifest.shards}
    )


def test_deterministic_and_one_worker_equals_two(built, tmp_path):
    code, output = invoke([*BUILD, "--out", str(tmp_path), "--workers", "1"])
    assert code == 0, output
    assert shard_bytes(tmp_path) == shard_bytes(built)
    assert (tmp_path / "vocab" / "entity_vocab.jsonl").read_bytes() == (
        built / "vocab" / "entity_vocab.jsonl"
    ).read_bytes()


def test_shards_are_the_same_whatever_the_title_join_buckets(built, tmp_path, monkeypatch):
    from transforms import title_join

    work = tmp_path / "copy"
    shutil.copytree(built, work, ignore=shutil.ignore_patterns("shards"))
    # At most 7 titles per bucket: every language's table is cut into many buckets.
    monkeypatch.setattr(title_join, "TITLES_PER_BUCKET", 7)
    rows = title_join.title_rows([str(p) for p in sorted((work / "vocab" / "titles").glob("*.parquet"))])
    assert min(title_join.bucket_count(n) for n in rows.values()) > 3
    code, output = invoke(["shards", "build", "--out", str(work), "--shard-rows", "16", "--workers", "2"])
    assert code == 0, output
    assert shard_bytes(work) == shard_bytes(built)
    assert not (work / "shards" / ".join").exists() and not (work / "shards" / ".parts").exists()


def test_the_title_join_resolves_what_an_in_memory_lookup_does(built, tmp_path):
    import apache_beam as beam
    import pyarrow.parquet as pq

    from transforms.title_join import ResolveEntityIds, read_resolved

    page_files = [str(p) for p in sorted((built / "pages").glob("*/*.parquet"))]
    title_files = [str(p) for p in sorted((built / "vocab" / "titles").glob("*.parquet"))]
    number = {path: n for n, path in enumerate(page_files)}
    buckets = {Path(path).stem: 3 for path in title_files}
    out = tmp_path / "refs.txt"
    with beam.Pipeline() as pipeline:
        sources = {
            "page_files": pipeline | "Pages" >> beam.Create(page_files),
            "title_files": pipeline | "Titles" >> beam.Create(title_files),
        }
        _ = (
            sources
            | ResolveEntityIds(str(tmp_path / "join"), buckets, number)
            | beam.GroupByKey()
            | beam.Map(lambda element: (element[0], read_resolved(element[1])))
            | beam.Map(repr)
            | beam.io.WriteToText(str(out), shard_name_template="")
        )
    found = dict(eval(line) for line in out.read_text().splitlines())
    # The same lookup, done in memory with plain Python over the whole title table.
    entity = {}
    for path in title_files:
        for row in pq.read_table(path).to_pylist():
            key = (row["lang"], row["title"])
            entity[key] = min(entity.get(key, row["entity_id"]), row["entity_id"])
    expected, wanted_count = {}, 0
    for path in page_files:
        wanted = set()
        for page in pq.read_table(path, columns=["lang", "title", "paragraphs"]).to_pylist():
            wanted.add((page["lang"], page["title"]))
            wanted.update((page["lang"], link["target"]) for p in page["paragraphs"] for link in p["links"])
        resolved = {title: entity[(lang, title)] for lang, title in wanted if (lang, title) in entity}
        wanted_count += len(wanted)
        if resolved:
            expected[number[path]] = resolved
    assert found == expected
    # Most files resolve titles, and the vocabulary leaves some link targets out.
    assert len(found) > len(page_files) // 2
    assert 200 < sum(len(titles) for titles in found.values()) < wanted_count


def test_changed_settings_rerun_only_downstream_stages(built, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    code, output = invoke([*BUILD, "--out", str(work), "--max-mention-length", "3", "--workers", "1"])
    assert code == 0, output
    statuses = {row["stage"]: row["status"] for row in json.loads(output)["stages"]}
    assert statuses["extract"] == statuses["vocab"] == statuses["tokenizer"] == "skipped"
    assert statuses["shards"] == "ran"
    code, output = invoke(
        [*BUILD, "--out", str(work), "--max-mention-length", "3", "--force", "vocab", "--workers", "1"]
    )
    statuses = {row["stage"]: row["status"] for row in json.loads(output)["stages"]}
    # vocab re-ran into byte-identical files, so the shards stage stays done.
    assert statuses["vocab"] == "ran" and statuses["shards"] == "skipped"


def test_verify_catches_a_corrupted_shard(built, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    code, output = invoke(["verify", str(work)])
    assert code == 0 and output.startswith("OK:")
    shard = sorted((work / "shards" / "de").glob("*.arrow"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["verify", str(work)])
    assert result.exit_code == 1
    assert f"shards/de/{shard.name}: sha256" in result.output


def test_verify_checks_content_rules(built, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    metadata_path = work / "shards" / "_metadata" / "th.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["settings"]["max_mention_length"] = 1
    metadata_path.write_text(json.dumps(metadata))
    result = CliRunner().invoke(cli, ["verify", str(work), "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert any("max_mention_length 1" in problem for problem in problems)
    # The schema metadata of th's shards now disagrees with its metadata file.
    assert any("schema metadata mluke.settings" in problem for problem in problems)


def test_verify_catches_a_stray_file_in_a_language_folder(built, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(built, work)
    (work / "shards" / "en" / "notes.json").write_text("{}")
    result = CliRunner().invoke(cli, ["verify", str(work)])
    assert result.exit_code == 1
    assert "shards/en/notes.json: a file not in shards/_manifest.json" in result.output


def test_stats_and_show(built, tmp_path):
    code, output = invoke(["shards", "stats", str(built), "--json", "--plot", str(tmp_path / "shards.png")])
    assert code == 0, output
    stats = json.loads(output.split("\nplot written", 1)[0])["languages"]
    assert stats["en"]["examples"] > stats["ja"]["examples"] > 0
    assert 0 < stats["th"]["entity_token_share"] < 1
    # The default tokenizer spells (nearly) every character of every sample language.
    assert all(row["unk_rate"] < 0.01 for row in stats.values()), {k: v["unk_rate"] for k, v in stats.items()}
    code, table = invoke(["shards", "stats", str(built)])
    assert "<unk>" in table
    assert (tmp_path / "shards.png").stat().st_size > 10_000
    code, output = invoke(["shards", "show", str(built), "--lang", "de", "-n", "2"])
    assert code == 0 and output.count("--- shards/de/") == 2 and "[[" in output


def test_stats_are_summed_a_batch_at_a_time_and_match_the_whole_tables(built, tmp_path):
    import numpy as np
    import pyarrow.compute as pc

    from pipeline.shards import shard_stats

    manifest = Manifest.from_json((built / "shards" / "_manifest.json").read_text())
    stats = shard_stats(str(built))["languages"]
    for lang, row in stats.items():
        table = pa.concat_tables(
            pa.ipc.open_file(pa.memory_map(str(built / e.path))).read_all()
            for e in manifest.shards
            if e.lang == lang
        )
        lengths = pc.list_value_length(table.column("word_ids")).to_numpy()
        assert row["examples"] == table.num_rows and row["tokens"] == int(lengths.sum())
        assert row["mean_length"] == round(float(lengths.mean()), 1)
        assert sum(row["length_histogram"].values()) == table.num_rows
        assert row["length_histogram"]["0-31"] == int((lengths < 32).sum())
    # The same shards cut into 5-row record batches: every figure the same.
    rebatched = tmp_path / "rebatched"
    shutil.copytree(built / "shards", rebatched / "shards")
    for entry in manifest.shards:
        path = rebatched / entry.path
        table = pa.ipc.open_file(pa.BufferReader(path.read_bytes())).read_all()
        with pa.ipc.new_file(str(path), table.schema) as writer:
            writer.write_table(table, max_chunksize=5)
    assert max(pa.ipc.open_file(str(rebatched / e.path)).num_record_batches for e in manifest.shards) > 1
    assert shard_stats(str(rebatched)) == {"languages": stats}
    assert np.isfinite([row["unk_rate"] for row in stats.values()]).all()


def test_user_errors(tmp_path):
    for args, message in [
        (["shards", "build", "--out", str(tmp_path)], "run `mluke-data vocab build` first"),
        (["shards", "stats", str(tmp_path)], "run `mluke-data shards build`"),
        (["build", "--out", str(tmp_path)], "needs --langs and --dump-date"),
        (["build", "--source", "sample", "--langs", "sw", "--out", str(tmp_path)], "the sample has no 'sw'"),
    ]:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output


@pytest.mark.train
def test_pretrain_and_export_on_the_built_shards(built, tmp_path):
    transformers = pytest.importorskip("transformers")
    from training.cli import main as train_cli

    run_dir = tmp_path / "run"
    # The acceptance run: tiny preset, 200 steps on the bundled sample's shards.
    args = ["pretrain", "--data", str(built / "shards"), "--preset", "tiny", "--max-steps", "200",
            "--batch-size", "16", "--output", str(run_dir), "--no-progress", "--log-every", "1"]  # fmt: skip
    result = CliRunner().invoke(train_cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 200
    # Deterministic for the seed. The sample's text is varied (no page repeats itself), so a
    # 64-wide model in 200 steps learns little more than word frequencies: the MLM loss drops by
    # about a quarter, the entity loss (a few dozen entities) by half.
    for loss, ratio in (("mlm_loss", 0.85), ("entity_loss", 0.7)):
        start = sum(row[loss] for row in metrics[:3]) / 3
        end = sum(row[loss] for row in metrics[-20:]) / 20
        assert end < ratio * start, (loss, start, end)
    result = CliRunner().invoke(
        train_cli, ["export", str(run_dir), str(tmp_path / "hf")], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    model = transformers.LukeForMaskedLM.from_pretrained(str(tmp_path / "hf"))
    vocab = json.loads((tmp_path / "hf" / "entity_vocab.json").read_text())
    assert model.config.entity_vocab_size == max(vocab.values()) + 1
    ours = {
        json.loads(line)["id"]: json.loads(line) for line in (built / "vocab" / "entity_vocab.jsonl").open()
    }
    entity = next(e for e in ours.values() if e["id"] >= 4 and len(e["entities"]) >= 3)
    (title_a, lang_a), (title_b, lang_b) = entity["entities"][:2]
    assert vocab[f"{lang_a}:{title_a}"] == vocab[f"{lang_b}:{title_b}"] == entity["id"]


def test_build_from_a_mirror_over_http(tmp_path):
    """The default source: fetch from a mirror (the sample served on 127.0.0.1), then every stage."""
    from fetch_server import MirrorServer

    from pipeline.sample import write_sample_mirror

    with MirrorServer(tmp_path / "mirror") as server:
        write_sample_mirror(str(server.root), langs=["en", "de", "ja"])
        args = ["build", "--langs", "en,de,ja", "--dump-date", "latest", "--mirror", server.url,
                "--min-languages", "2", "--tokenizer-vocab-size", "1000", "--workers", "1", "--json"]  # fmt: skip
        result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "work")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # fetch's messages go to stderr under --json
    assert {row["stage"]: row["status"] for row in summary["stages"]}["fetch"] == "ran"
    assert set(summary["languages"]) == {"en", "de", "ja"}
    assert all(row["examples"] > 0 for row in summary["languages"].values())
    assert (tmp_path / "work" / "dumps" / "jawiki" / "20261101" / "dumpstatus.json").exists()


def _wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 600) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, "the build ended before it could be interrupted"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to list the process tree")
def test_interrupted_build_stops_the_tree_and_resumes_byte_identical(built, tmp_path):
    """SIGINT to the build's pid mid-vocab, SIGTERM in a later stage; the third run finishes the
    build, which then equals the uninterrupted one byte for byte."""
    from pipeline.interrupt import INTERRUPTED, descendants

    work = tmp_path / "work"
    command = [sys.executable, "-m", "pipeline.cli", *BUILD, "--out", str(work), "--workers", "2"]
    root = Path(__file__).resolve().parents[1]
    for signum, after in ((signal.SIGINT, "extract"), (signal.SIGTERM, "vocab")):
        with open(tmp_path / "stderr", "w+") as stderr:
            proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                _wait_for(work / "reports" / f"{after}.stage.json", proc)
                tree = descendants(proc.pid)
                os.kill(proc.pid, signum)
                code = proc.wait(timeout=120)  # a generous bound: the handler exits at once
            finally:
                if proc.poll() is None:
                    proc.kill()
            stderr.seek(0)
            lines = [line for line in stderr.read().splitlines() if line.strip()]
        assert code == 128 + signum
        # Stage headers and progress, then the one line; no worker's traceback.
        assert lines[-1] == INTERRUPTED and lines.count(INTERRUPTED) == 1, lines
        assert not any("Traceback" in line or "Error" in line for line in lines), lines
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(pid) for pid in tree)
    code, output = invoke([*BUILD, "--out", str(work), "--workers", "2"])
    assert code == 0, output
    statuses = {row["stage"]: row["status"] for row in json.loads(output)["stages"]}
    assert statuses["extract"] == statuses["vocab"] == "skipped"
    assert shard_bytes(work) == shard_bytes(built)
    for name in ("entity_vocab.jsonl", "entities.parquet"):
        assert (work / "vocab" / name).read_bytes() == (built / "vocab" / name).read_bytes()


def test_too_few_languages_for_min_languages_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--source", "sample", "--langs", "en", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: --min-languages 3 ")
    assert "pass --min-languages 1" in result.output
    assert not (tmp_path / "dumps").exists()  # refused before any work


def test_a_language_with_no_examples_warns_and_fails_under_strict(tmp_path):
    # Sentences of 600+ tokens are longer than a sequence: nothing can be kept.
    args = ["build", "--source", "sample", "--langs", "en,de,ja", "--tokenizer-vocab-size", "1000",
            "--min-sentence-length", "600", "--workers", "1", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for lang in ("de", "en", "ja"):
        assert f"warning: {lang}: 0 examples" in result.output
    result = CliRunner().invoke(cli, [*args, "--strict", "--json"])
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)["warnings"]) == 3
    assert "Error: --strict: 3 language(s) ended with 0 examples" in result.stderr


def test_an_unusable_out_is_one_error_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out in (blocker / "out", blocker):
        result = CliRunner().invoke(cli, ["build", "--source", "sample", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and result.output.startswith(
            f"Error: cannot write to --out {out}"
        )


def test_a_file_system_failure_in_the_workers_is_one_error_line(built, tmp_path):
    """shards/ is a file: every worker fails to write; the user sees one line, no traceback."""
    work = tmp_path / "work"
    for name in ("pages", "vocab", "tokenizer"):
        shutil.copytree(built / name, work / name)
    (work / "shards").write_text("not a folder")
    command = [sys.executable, "-m", "pipeline.cli", "shards", "build", "--out", str(work), "--workers", "2"]
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                            timeout=600)  # fmt: skip
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: Not a directory: {work}/shards/.join (a part of the path is a file, not a "
                      "folder: check the path)"], result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr + result.stdout


def test_every_command_has_examples_in_its_help():
    def commands(group: click.Group, path: list[str]):
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                yield from commands(command, [*path, name])
            else:
                yield [*path, name]

    for path in commands(cli, []):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output, path
        examples = result.output.split("Examples:", 1)[1]
        assert f"mluke-data {' '.join(path)}" in examples, path


def test_summary_headers_and_inspection_output(built):
    """What a user sees: stage headers on stderr, a title on one line, lookup and show --json."""
    result = CliRunner().invoke(
        cli, [*[a for a in BUILD if a != "--json"], "--out", str(built), "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "[3/6] vocab: skipped (done for the same inputs and settings)" in result.stderr
    title = next(line for line in result.stdout.splitlines() if "mluke-data build" in line)
    assert "entities + 4 special)" in title  # not wrapped onto a second line
    # A title shared by many languages is matched in the language that links it most.
    code, output = invoke(["vocab", "lookup", str(built), "Paris", "--json"])
    assert code == 0, output
    hit = json.loads(output)[0]
    named = [t for t in hit["titles"] if t["title"] == "Paris"]
    assert len(named) > 1
    most = max(named, key=lambda t: (t["count"], [-ord(c) for c in t["lang"]]))
    assert hit["matched"] == f"{most['lang']} title 'Paris'"
    assert most["count"] > min(t["count"] for t in named)
    code, output = invoke(["shards", "show", str(built), "--lang", "ja", "-n", "2", "--json"])
    assert code == 0, output
    records = [json.loads(line) for line in output.splitlines()]
    assert len(records) == 2 and all(r["lang"] == "ja" and r["word_ids"][0] == BOS_ID for r in records)
    assert all("[[" in r["text"] and len(r["entities"]) == len(r["entity_ids"]) for r in records)
