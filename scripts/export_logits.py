"""Logits of an exported model under whichever transformers this interpreter has.

Used to check that transformers 4.x and 5.x load a `mluke-train export` directory alike:

    python scripts/export_logits.py EXPORT_DIR inputs.pt logits-5.pt          # this project's venv
    /path/to/venv-with-transformers-4/bin/python scripts/export_logits.py EXPORT_DIR inputs.pt logits-4.pt
    python scripts/export_logits.py --compare logits-5.pt logits-4.pt

``inputs.pt`` holds a dict of LukeForMaskedLM inputs (input_ids, attention_mask, entity_ids,
entity_attention_mask, entity_position_ids); ``--make-inputs EXPORT_DIR inputs.pt`` writes a
random batch that fits the model. Needs only torch and transformers (no import of this project).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def make_inputs(export_dir: Path, path: Path) -> None:
    config = json.loads((export_dir / "config.json").read_text(encoding="utf-8"))
    generator = torch.Generator().manual_seed(0)
    batch, words, entities = 3, 24, 4
    inputs = {
        "input_ids": torch.randint(4, config["vocab_size"] - 1, (batch, words), generator=generator),
        "attention_mask": torch.ones(batch, words, dtype=torch.long),
        "entity_ids": torch.randint(4, config["entity_vocab_size"], (batch, entities), generator=generator),
        "entity_attention_mask": torch.ones(batch, entities, dtype=torch.long),
        "entity_position_ids": torch.full((batch, entities, 4), -1, dtype=torch.long),
    }
    inputs["input_ids"][:, 0], inputs["input_ids"][:, -1] = 0, 2
    inputs["attention_mask"][1, 18:] = 0
    inputs["input_ids"][1, 18:] = 1
    inputs["entity_attention_mask"][2, 2:] = 0
    inputs["entity_position_ids"][:, :, 0] = torch.arange(1, entities + 1)
    torch.save(inputs, path)


def logits(export_dir: Path, inputs_path: Path, out: Path) -> None:
    import transformers
    from transformers import LukeForMaskedLM

    model = LukeForMaskedLM.from_pretrained(export_dir).eval()
    inputs = torch.load(inputs_path)
    with torch.no_grad():
        output = model(**inputs)
    tied = model.lm_head.decoder.weight.data_ptr() == model.luke.embeddings.word_embeddings.weight.data_ptr()
    torch.save(
        {
            "transformers": transformers.__version__,
            "logits": output.logits,
            "entity_logits": output.entity_logits,
            "decoder_equals_embeddings": bool(
                torch.equal(model.lm_head.decoder.weight, model.luke.embeddings.word_embeddings.weight)
            ),
            "decoder_tied": tied,
        },
        out,
    )


def compare(first: Path, second: Path) -> None:
    a, b = torch.load(first), torch.load(second)
    for name in ("logits", "entity_logits"):
        difference = (a[name] - b[name]).abs().max().item()
        print(
            f"{name}: max |transformers {a['transformers']} - transformers {b['transformers']}| = {difference:.3g}"
        )
    for record in (a, b):
        print(
            f"transformers {record['transformers']}: decoder tied {record['decoder_tied']}, "
            f"equal to the embeddings {record['decoder_equals_embeddings']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--make-inputs", action="store_true")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    if args.make_inputs:
        make_inputs(*args.paths)
    elif args.compare:
        compare(*args.paths)
    else:
        logits(*args.paths)


if __name__ == "__main__":
    main()
