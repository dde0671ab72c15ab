"""``python -m pipeline.sample OUTDIR [--langs en,de] [--scale N] [--date YYYYMMDD]``: write the mirror."""

from __future__ import annotations

import argparse
import logging
import sys

from pipeline.sample import SAMPLE_DATE, SAMPLE_LANGS, write_sample_mirror


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.sample", description=__doc__)
    parser.add_argument("outdir", help="root of the mirror tree to write")
    parser.add_argument("--langs", default=",".join(SAMPLE_LANGS), help="comma-separated sample languages")
    parser.add_argument("--date", default=SAMPLE_DATE, help="dump date (YYYYMMDD)")
    parser.add_argument("--scale", type=int, default=1, help="copies of the generated articles (benchmarks)")
    args = parser.parse_args(argv)
    # Beam warns through the root logger about optional GCP libraries while it is imported.
    logging.getLogger().addHandler(logging.NullHandler())
    langs = [code.strip() for code in args.langs.split(",") if code.strip()]
    try:
        paths = write_sample_mirror(args.outdir, langs=langs, date=args.date, scale=args.scale)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {len(paths)} files under {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
