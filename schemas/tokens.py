"""The word-id convention of the shards (XLM-R / fairseq style), owned in one place.

A sentencepiece model with N pieces has ids ``<unk>=0, <s>=1, </s>=2`` and pieces from 3. The
shards use the ids ``xlm-roberta-base`` expects::

    <s>=0  <pad>=1  </s>=2  <unk>=3  piece i (i >= 3) -> i + 1  <mask> = N + 1

so the word vocabulary has N + 2 ids (250002 for XLM-R's 250000-piece model).
"""

from __future__ import annotations

from dataclasses import dataclass

BOS_ID = 0
PAD_ID = 1
EOS_ID = 2
UNK_ID = 3
PIECE_OFFSET = 1  # fairseq's offset between sentencepiece ids and model ids

BOS_TOKEN = "<s>"
PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
UNK_TOKEN = "<unk>"
MASK_TOKEN = "<mask>"

# Longest entity mention, in word tokens: the shards drop longer spans (ShardSettings), and
# pretraining and fine-tuning size their entity position ids by it. Here rather than in
# schemas/shards.py so that training/ gets it without importing pyarrow.
MAX_MENTION_LENGTH = 30


@dataclass(frozen=True)
class WordIdConvention:
    """Maps sentencepiece ids of a model with ``piece_count`` pieces to model word ids."""

    piece_count: int

    @property
    def vocab_size(self) -> int:
        return self.piece_count + 2

    @property
    def mask_id(self) -> int:
        return self.piece_count + 1

    def to_word_id(self, piece_id: int) -> int:
        if piece_id == 0:
            return UNK_ID
        if piece_id == 1:
            return BOS_ID
        if piece_id == 2:
            return EOS_ID
        return piece_id + PIECE_OFFSET

    def to_piece_id(self, word_id: int) -> int:
        """Inverse of :meth:`to_word_id`; <pad> and <mask> have no piece and raise."""
        if word_id == UNK_ID:
            return 0
        if word_id == BOS_ID:
            return 1
        if word_id == EOS_ID:
            return 2
        if word_id in (PAD_ID, self.mask_id) or not 0 <= word_id < self.vocab_size:
            raise ValueError(f"word id {word_id} has no sentencepiece piece")
        return word_id - PIECE_OFFSET
