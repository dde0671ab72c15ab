"""What every training run needs, whatever the task: processes, device, optimizer, RNG, logs, progress.

Pretraining (training/trainer.py) and fine-tuning (training/finetune.py) both build on these:

- ``setup_distributed`` / ``Distributed``: one process, or DDP under torchrun (NCCL on CUDA, gloo
  on CPU). ``host_all_reduce`` sums small host-side counts over a gloo group, so that the number of
  prediction targets of a global batch is known on every rank without touching the GPU.
- ``choose_device`` / ``configure_device`` / ``autocast_context``: CUDA when there is one, TF32
  matmuls, bf16 autocast; CPU runs in fp32 with a chosen number of intra-op threads.
- ``make_optimizer``: AdamW without weight decay on biases and layer norms (fused on CUDA), with
  the linear warmup then linear decay schedule of ``linear_schedule``.
- ``rng_state`` / ``set_rng_state`` / ``seed_everything``: exact resume of dropout and sampling.
- ``MetricsLog`` (metrics.jsonl + TensorBoard), ``Progress`` (a bar on a terminal, lines
  otherwise), ``check_resume`` (a resumed run must keep the options that define its trajectory).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from .errors import TrainingError

METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"


# ---------------------------------------------------------------------------------------------
# Processes


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    host_group: Any = None  # a gloo group for host-side reductions (None: the default group)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def wants_cuda(requested: str | None) -> bool:
    if requested:
        return torch.device(requested).type == "cuda"
    return torch.cuda.is_available()


def setup_distributed(requested_device: str | None) -> Distributed:
    """The process group of a torchrun launch (WORLD_SIZE > 1), else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed()
    cuda = wants_cuda(requested_device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    host_group = dist.new_group(backend="gloo") if cuda else None
    return Distributed(
        dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), host_group
    )


def teardown_distributed(distributed: Distributed) -> None:
    if distributed.enabled and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_run(requested_device: str | None):
    distributed = setup_distributed(requested_device)
    try:
        yield distributed
    finally:
        teardown_distributed(distributed)


def host_all_reduce(values: Iterable[float], distributed: Distributed) -> list[float]:
    """Sums host numbers over the ranks (gloo, CPU tensors): no device synchronisation."""
    tensor = torch.tensor(list(values), dtype=torch.float64)
    if distributed.enabled:
        dist.all_reduce(tensor, group=distributed.host_group)
    return tensor.tolist()


def gather_objects(value: Any, distributed: Distributed) -> list[Any]:
    """``value`` from every rank (just ``[value]`` without torch.distributed)."""
    if not distributed.enabled:
        return [value]
    gathered: list[Any] = [None] * distributed.world_size
    dist.all_gather_object(gathered, value, group=distributed.host_group)
    return gathered


def barrier(distributed: Distributed) -> None:
    if distributed.enabled:
        dist.barrier(group=distributed.host_group)


# ---------------------------------------------------------------------------------------------
# Device


def choose_device(requested: str | None, local_rank: int) -> torch.device:
    if requested:
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def configure_device(device: torch.device, cpu_threads: int | None = None) -> None:
    """TF32 matmuls on CUDA; on CPU the intra-op thread count (``None``: torch's default).

    Loader workers are separate processes: on a small CPU machine, compute threads plus workers
    above the core count make every OpenMP barrier wait on a descheduled thread.
    """
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    elif cpu_threads:
        torch.set_num_threads(cpu_threads)


def default_loader_workers(device: torch.device) -> int:
    """Two loader processes feed a GPU; on CPU the loader runs inline (masking is vectorised and
    takes a few milliseconds a batch, less than a worker process costs in cores and start-up)."""
    return 2 if device.type == "cuda" else 0


def autocast_context(device: torch.device, precision: str) -> tuple[Callable[[], Any], str]:
    """bf16 autocast on CUDA (``auto`` or ``bf16``), full fp32 elsewhere."""
    if precision not in ("auto", "bf16", "fp32"):
        raise TrainingError(f"--precision must be auto, bf16 or fp32, not {precision}")
    if device.type == "cuda" and precision in ("auto", "bf16"):
        if not torch.cuda.is_bf16_supported():
            if precision == "bf16":
                raise TrainingError("this GPU does not support bf16")
            return contextlib.nullcontext, "fp32"
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), "bf16"
    if precision == "bf16":
        raise TrainingError("--precision bf16 needs a CUDA device; CPU training runs in fp32")
    return contextlib.nullcontext, "fp32"


# ---------------------------------------------------------------------------------------------
# Optimisation


def linear_schedule(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warmup to the peak learning rate over ``warmup`` steps, then linear decay to 0."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay on weights, none on biases and layer norms (tied parameters appear once)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name:
            no_decay.append(parameter)
        else:
            decay.append(parameter)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(
    model: torch.nn.Module,
    device: torch.device,
    learning_rate: float,
    weight_decay: float,
    betas: tuple[float, float],
    eps: float,
    warmup_steps: int,
    total_steps: int,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (with bias correction, fused on CUDA) and its warmup/decay schedule."""
    optimizer = torch.optim.AdamW(
        parameter_groups(model, weight_decay),
        lr=learning_rate,
        betas=tuple(betas),
        eps=eps,
        **({"fused": True} if device.type == "cuda" else {"foreach": True}),
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_schedule(warmup_steps, total_steps))
    return optimizer, scheduler


def clip_gradients(parameters: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """The total gradient norm as a device tensor (no synchronisation); clips when ``max_norm`` > 0."""
    if max_norm > 0:
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm, foreach=True)
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


# ---------------------------------------------------------------------------------------------
# Randomness


def rng_state() -> dict[str, Any]:
    """Python, numpy, torch (and CUDA) random states, for exact resume."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def seed_everything(seed: int, rank: int) -> None:
    torch.manual_seed(seed * 7919 + rank)
    random.seed(seed + rank)
    np.random.seed(seed + rank)


def restore_rng(saved: list[dict[str, Any]], distributed: Distributed, seed: int, step: int) -> None:
    """The saved RNG states of a resumed run; with another number of processes the data order
    stays exact (it depends on the step only) but dropout cannot."""
    if len(saved) == distributed.world_size:
        set_rng_state(saved[distributed.rank])
    else:
        torch.manual_seed(seed * 7919 + distributed.rank + step)


def parameter_digest(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Run records


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def check_resume(saved: dict[str, Any], current: dict[str, Any], defining: Iterable[str], path: Path) -> None:
    """A resumed run keeps every option that defines its trajectory."""
    changed = [name for name in defining if saved.get(name) != current.get(name)]
    if changed:
        details = ", ".join(f"{name} {saved.get(name)!r} -> {current.get(name)!r}" for name in changed)
        raise TrainingError(f"cannot resume {path} exactly with different settings: {details}")


def refuse_existing_run(run_dir: Path, existing: Path | None, resume: bool) -> None:
    if existing is not None and not resume:
        raise TrainingError(
            f"{run_dir} already holds checkpoints: add --resume to continue it, or pick a new --output"
        )


class MetricsLog:
    """metrics.jsonl (one object per logged step) and TensorBoard events; main rank only."""

    def __init__(self, run_dir: Path, start_step: int, enabled: bool) -> None:
        self.enabled = enabled
        self.path = run_dir / METRICS_FILE
        self.writer = None
        if not enabled:
            return
        # A resumed run rewrites what the interrupted one logged after its checkpoint.
        kept: list[str] = []
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip() and json.loads(line).get("step", 0) <= start_step:
                    kept.append(line)
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=start_step + 1)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.handle.write(json.dumps(record, sort_keys=True) + "\n")
        self.handle.flush()
        assert self.writer is not None
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"train/{key}", value, record["step"])

    def close(self) -> None:
        if self.enabled:
            self.handle.close()
            assert self.writer is not None
            self.writer.close()


class Progress:
    """A rich progress bar on a terminal, one line per logged step otherwise (main rank only).

    ``describe`` turns a logged record into the status text.
    """

    def __init__(
        self,
        label: str,
        total: int,
        start: int,
        enabled: bool,
        wanted: bool | None,
        describe: Callable[[dict[str, Any]], str],
    ) -> None:
        self.enabled = enabled and wanted is not False
        self.total = total
        self.describe = describe
        self.bar = None
        if self.enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn(f"[bold]{label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, completed=start, status="")

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        status = self.describe(record) if record is not None else None
        if self.bar is not None:
            self.bar.update(self.task, completed=step, **({"status": status} if status else {}))
        elif status:
            print(f"step {step}/{self.total}: {status}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
