"""Training step: ours against a plain Hugging Face LukeForMaskedLM loop, same batches, same run.

- ``ours``: mluke-train's step (training.trainer.TrainStep): tied decoders, plain attention through
  the fused SDPA kernel, prediction heads on the listed targets only, no host-device
  synchronisation inside the step, entity axis padded so words + entities is a multiple of 8;
- ``hf``: ``LukeForMaskedLM(config)`` as transformers builds it (its word decoder untied, eager
  attention), ``model(**batch, labels=..., entity_labels=...).loss.backward()``, the same AdamW
  and clipping, a ``loss.item()`` per step as a plain loop logs it.

Both get the same micro-batches (masked by mluke-train's loader from the synthetic 512-token
shards of benchmarks/loader.py: 250,002 words, 1.2M entities), in interleaved rounds so that
machine load hits both alike. Prints step time, tokens/s and, on CUDA, peak memory.

    python benchmarks/train_step.py                                  # CPU, a small config
    python benchmarks/train_step.py --device cuda --preset base --micro-batch 16 --steps 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from loader import CONVENTION, ENTITY_VOCAB, sizes_of, write_shards

from training.data import ExampleStream, StreamConfig
from training.masking import Masker, MaskingConfig

SMALL = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 512}


def make_batches(count: int, micro: int, seq_len: int) -> list[dict[str, np.ndarray]]:
    files = write_shards(max(2000, count * micro * 2))
    masker = Masker(MaskingConfig(), CONVENTION.mask_id, CONVENTION.vocab_size)
    stream = ExampleStream(files, sizes_of(files), StreamConfig(11, micro, micro), masker)
    batches = []
    for item in stream.micro_batches(0, max_steps=count):
        arrays = dict(item.arrays)
        if seq_len < arrays["input_ids"].shape[1]:
            raise SystemExit("--seq-len shorter than the shards' sequences is not supported")
        arrays["tokens"] = np.int64(item.tokens)
        batches.append(arrays)
    stream.close()
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", default="small", choices=["small", "tiny", "base", "large"])
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="CPU intra-op threads")
    parser.add_argument("--compile", action="store_true", help="also torch.compile our step")
    args = parser.parse_args()

    import torch
    from transformers import LukeForMaskedLM

    from training import runtime
    from training.model import build_config, new_model
    from training.options import PretrainOptions
    from training.trainer import MODEL_INPUTS, TrainStep

    device = torch.device(args.device)
    runtime.configure_device(device, args.threads)
    autocast, precision = runtime.autocast_context(device, "auto")
    preset = None if args.preset == "small" else args.preset
    config = build_config(preset or "tiny", None, CONVENTION.vocab_size, ENTITY_VOCAB, 512)
    if args.preset == "small":
        for key, value in SMALL.items():
            setattr(config, key, value)
    per_round = args.steps // args.rounds
    batches = make_batches(args.warmup + per_round * args.rounds, args.micro_batch, 512)
    tensors = [{name: torch.from_numpy(np.asarray(value)) for name, value in b.items()} for b in batches]

    opts = PretrainOptions(
        data=[],
        output="",
        batch_size=args.micro_batch,
        micro_batch_size=args.micro_batch,
        compile=args.compile,
    )
    ours = new_model(config, seed=0).to(device)
    hf_config = type(config)(**config.to_dict())
    hf = LukeForMaskedLM(hf_config).to(device)
    hf.train()
    optimizers = {}
    for name, model in (("ours", ours), ("hf", hf)):
        optimizers[name] = runtime.make_optimizer(model, device, 1e-4, 0.01, (0.9, 0.999), 1e-6, 10, 10_000)
    step_ours = TrainStep(ours, opts, device, autocast, runtime.Distributed())

    def run_ours(batch: dict[str, torch.Tensor], step: int) -> None:
        item = dict(batch, step=torch.tensor(step), micro=torch.tensor(0))
        optimizer, scheduler = optimizers["ours"]
        step_ours(iter([item]), step, optimizer, scheduler)

    hf_params = [p for p in hf.parameters() if p.requires_grad]

    def run_hf(batch: dict[str, torch.Tensor], step: int) -> None:
        optimizer, scheduler = optimizers["hf"]
        inputs = {name: batch[name].to(device) for name in MODEL_INPUTS[:5]}
        with autocast():
            out = hf(
                **inputs, labels=batch["labels"].to(device), entity_labels=batch["entity_labels"].to(device)
            )
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(hf_params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        out.loss.item()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    runners = {"ours": run_ours, "hf": run_hf}
    times: dict[str, list[float]] = {name: [] for name in runners}
    peak: dict[str, float] = {}
    for run in runners.values():  # warm-up (allocator, kernels, compilation)
        for index in range(args.warmup):
            run(tensors[index], index)
        sync()
    position = args.warmup
    for _ in range(args.rounds):
        for name, run in runners.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            for offset in range(per_round):
                sync()
                started = time.perf_counter()
                run(tensors[position + offset], position + offset)
                sync()
                times[name].append(time.perf_counter() - started)
            if device.type == "cuda":
                peak[name] = max(peak.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**30)
        position += per_round
    tokens = statistics.mean(float(b["tokens"]) for b in batches[args.warmup :])
    sizes = {
        "ours": sum(p.numel() for p in ours.parameters()),
        "hf": sum(p.numel() for p in hf.parameters()),
    }
    print(
        f"device {device} ({precision}), preset {args.preset}, micro-batch {args.micro_batch}, "
        f"{tokens:,.0f} tokens/batch, {args.steps} timed steps each"
    )
    print(f"{'variant':<8}{'params':>14}{'median s/step':>15}{'min':>9}{'tokens/s':>11}{'peak GiB':>10}")
    for name in runners:
        median = statistics.median(times[name])
        print(
            f"{name:<8}{sizes[name]:>14,}{median:>15.3f}{min(times[name]):>9.3f}{tokens / median:>11,.0f}"
            f"{peak.get(name, float('nan')):>10.2f}"
        )
    print(f"speed-up ours/hf: {statistics.median(times['hf']) / statistics.median(times['ours']):.2f}x")


if __name__ == "__main__":
    main()
