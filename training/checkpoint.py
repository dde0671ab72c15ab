"""Checkpoints: one file per saved step, written atomically, the last N kept.

``RUN_DIR/checkpoints/step-00001000.pt`` holds the model, optimizer, scheduler, every rank's RNG
states, the data position (step and per-language stream counts) and the run's settings. It is
written to a temporary name in the same directory, flushed to disk, then renamed: a run killed at
any moment leaves either the complete previous checkpoints or the new one, never a torn file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from .errors import TrainingError

CHECKPOINT_DIR = "checkpoints"
FORMAT = "mluke-train-checkpoint/1"
_NAME = re.compile(r"^step-(\d{8,})\.pt$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}.pt"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    directory = run_dir / CHECKPOINT_DIR
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], keep_last: int) -> Path:
    directory = run_dir / CHECKPOINT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / checkpoint_name(step)
    temporary = directory / f".{final.name}.tmp-{os.getpid()}"
    with open(temporary, "wb") as handle:
        torch.save({"format": FORMAT, "step": step, **state}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, final)
    _fsync_directory(directory)
    for _, old in list_checkpoints(run_dir)[:-keep_last] if keep_last > 0 else []:
        old.unlink(missing_ok=True)
    # Leftovers of writes that were killed before their rename.
    for leftover in directory.glob(".step-*.pt.tmp-*"):
        if leftover != temporary:
            leftover.unlink(missing_ok=True)
    return final


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or the latest one of a run directory."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        latest = latest_checkpoint(path)
        if latest is not None:
            return latest
        raise TrainingError(f"{path} holds no checkpoint ({CHECKPOINT_DIR}/step-*.pt)")
    raise TrainingError(f"{path} does not exist")


def load_checkpoint(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as error:
        raise TrainingError(f"cannot read checkpoint {path}: {error}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise TrainingError(f"{path} is not an mluke-train checkpoint")
    return state
