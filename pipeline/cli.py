"""The ``mluke-data`` command line."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

import click

# Beam warns through the root logger about optional GCP libraries while it is imported.
logging.getLogger().addHandler(logging.NullHandler())

from pipeline.beam_startup import import_beam  # noqa: E402

import_beam()  # first, so that Beam is imported without pandas

from pipeline.build import build_command  # noqa: E402
from pipeline.extract import extract_command  # noqa: E402
from pipeline.fetch import fetch_command  # noqa: E402
from pipeline.interrupt import install_interrupt_handlers  # noqa: E402
from pipeline.mentions import mentions_group  # noqa: E402
from pipeline.options import UserError, io_error_message  # noqa: E402
from pipeline.shards import shards_group, verify_command  # noqa: E402
from pipeline.tokenizer import tokenizer_group  # noqa: E402
from pipeline.vocab import vocab_group  # noqa: E402

# What the imports built (Beam's modules, protos, registries: ~200k objects) lives as long as the
# process. Moved out of the collector's view, it is not traversed again by every full collection
# during a stage (each ~0.1-0.3 s).
gc.freeze()


class _Cli(click.Group):
    """Turns file-system failures of the user's making (unwritable or full --out, a missing input)
    into one ``Error:`` line, wherever they happen (here or in a Beam worker)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = io_error_message(error)
            if message is None:
                raise
            raise UserError(message) from None


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    help="""Multilingual Wikipedia entity data for mLUKE-style pretraining.

\b
Start here:
  build     every stage in order, skipping finished ones
            (mluke-data build --source sample --out ./out)

\b
Stages (each an Apache Beam pipeline; local runs use all cores):
  fetch     download Wikipedia dumps from a mirror, verified and resumable
  extract   dumps -> paragraphs with hyperlink spans, redirects, dead letters
  vocab     cross-lingual entity vocabulary via Wikidata; stats, lookup, compare
  tokenizer train a sentencepiece model on the extracted text (or bring XLM-R's)
  shards    tokenized, packed Arrow pretraining shards; stats, show
  verify    check shards against the manifest and the data contract

\b
Inspect:
  mentions  entity mentions found in a text with the mention dictionary, and why
""",
)
@click.version_option(package_name="mluke-data")
@click.option("-v", "--verbose", is_flag=True, help="Show Beam's log messages.")
def cli(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if not verbose:
        # Beam is chatty about optional GCP libraries on every start.
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        logging.getLogger("root").setLevel(logging.ERROR)
    os.environ.setdefault("NO_GCE_CHECK", "true")


cli.add_command(build_command)
cli.add_command(fetch_command)
cli.add_command(extract_command)
cli.add_command(vocab_group)
cli.add_command(mentions_group)
cli.add_command(tokenizer_group)
cli.add_command(shards_group)
cli.add_command(verify_command)


def main() -> None:
    install_interrupt_handlers()
    cli(prog_name="mluke-data")


if __name__ == "__main__":
    main()
