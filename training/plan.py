"""`mluke-train plan`: what a run over the shards amounts to before starting it.

Total steps follow luke's compute-total-training-steps: ceil(examples / global batch * epochs).
With language sampling (p ~ size^alpha) the run does not see each language in proportion to its
size: the plan shows how many passes over each language's data the run makes, and the expected
tokens per step under that sampling, from which it estimates wall time for a stated throughput.
"""

from __future__ import annotations

import math
from typing import Any

from .data import sampling_probabilities
from .errors import TrainingError
from .shards import ShardSet


def make_plan(
    shard_set: ShardSet,
    batch_size: int,
    epochs: float | None = None,
    max_steps: int | None = None,
    sampling_smoothing: float = 0.7,
    throughputs: tuple[float, ...] = (),
    warmup_steps: int = 2500,
) -> dict[str, Any]:
    if batch_size <= 0:
        raise TrainingError("--batch-size must be positive")
    sizes = shard_set.sizes()
    tokens = shard_set.tokens()
    examples = int(sizes.sum())
    if max_steps:
        steps = int(max_steps)
    elif epochs:
        steps = math.ceil(examples / batch_size * epochs)
    else:
        raise TrainingError("give --epochs or --max-steps")
    probabilities = sampling_probabilities(sizes, sampling_smoothing)
    drawn = steps * batch_size
    mean_tokens = tokens / sizes
    tokens_per_step = float(batch_size * (probabilities * mean_tokens).sum())
    languages = []
    for index, language in enumerate(shard_set.languages):
        languages.append(
            {
                "lang": language.lang,
                "examples": int(sizes[index]),
                "tokens": int(tokens[index]),
                "mean_tokens": float(mean_tokens[index]),
                "probability": float(probabilities[index]),
                "share_of_data": float(sizes[index] / examples),
                "examples_drawn": float(probabilities[index] * drawn),
                "passes": float(probabilities[index] * drawn / sizes[index]),
            }
        )
    estimates = []
    for rate in throughputs:
        if rate <= 0:
            raise TrainingError("--throughput must be positive")
        seconds = steps * tokens_per_step / rate
        estimates.append(
            {"tokens_per_s": rate, "seconds": seconds, "hours": seconds / 3600, "days": seconds / 86400}
        )
    warnings = []
    if warmup_steps >= steps:
        warnings.append(
            f"the whole run is warmup ({steps:,} steps, --warmup-steps {warmup_steps:,}): the learning rate "
            "never reaches its peak nor decays; lower --warmup-steps (luke: 2,500 of ~540,000 steps)"
        )
    return {
        "warnings": warnings,
        "batch_size": batch_size,
        "epochs": epochs,
        "steps": steps,
        "warmup_steps": min(warmup_steps, steps),
        "examples": examples,
        "tokens": int(tokens.sum()),
        "examples_drawn": drawn,
        "tokens_per_step": tokens_per_step,
        "tokens_drawn": tokens_per_step * steps,
        "sampling_smoothing": sampling_smoothing,
        "languages": languages,
        "estimates": estimates,
        "settings": shard_set.settings,
    }


def format_plan(plan: dict[str, Any]) -> str:
    lines = [
        f"{plan['examples']:,} examples, {plan['tokens']:,} tokens in {len(plan['languages'])} language(s)",
        f"global batch {plan['batch_size']:,}"
        + (f", {plan['epochs']:g} epochs" if plan["epochs"] else "")
        + f" -> {plan['steps']:,} steps (warmup {plan['warmup_steps']:,})",
        f"examples drawn {plan['examples_drawn']:,}, expected tokens per step {plan['tokens_per_step']:,.0f}, "
        f"tokens drawn {plan['tokens_drawn']:,.0f}",
        "",
        f"{'lang':<6}{'examples':>12}{'tokens':>14}{'tok/ex':>8}{'data %':>8}{'p':>8}{'passes':>9}",
    ]
    for language in plan["languages"]:
        lines.append(
            f"{language['lang']:<6}{language['examples']:>12,}{language['tokens']:>14,}"
            f"{language['mean_tokens']:>8.1f}{language['share_of_data'] * 100:>7.1f}%"
            f"{language['probability']:>8.3f}{language['passes']:>9.2f}"
        )
    for warning in plan.get("warnings", []):
        lines.append(f"warning: {warning}")
    if plan["estimates"]:
        lines.append("")
        for estimate in plan["estimates"]:
            seconds = estimate["seconds"]
            if seconds < 3600:
                duration = f"{seconds / 60:,.1f} minutes"
            else:
                duration = f"{estimate['hours']:,.1f} hours ({estimate['days']:,.2f} days)"
            lines.append(f"at {estimate['tokens_per_s']:,.0f} tokens/s: {duration}")
    return "\n".join(lines)
