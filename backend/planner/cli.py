"""Command line for the planner: `python -m backend.planner [--json | --recommend --shell]`.

Exit status: 0 the configuration starts; 2 bad input (unknown model, no GPU detected and no
--gpu-memory-gib, argparse errors); 3 it cannot start (the JSON still carries `fits: false`
and vLLM's own error text in `error`). Nothing here raises a traceback for those cases.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from backend.planner.gpu import detect_gpu_memory_gib
from backend.planner.memory import (
    DEFAULT_GPU_MEMORY_UTILIZATION,
    KV_CACHE_DTYPE_BYTES,
    Plan,
    PlanError,
    plan,
)
from backend.planner.model_specs import DEFAULT_MODEL, ModelSpecError, load_model_spec
from backend.planner.recommend import (
    DEFAULT_CONCURRENCY,
    Recommendation,
    recommend_launch,
    smallest_gpu,
)

EXIT_OK, EXIT_USAGE, EXIT_DOES_NOT_FIT = 0, 2, 3

NOTES = (
    "Why vLLM takes ~90% of the GPU: it preallocates gpu_memory_utilization x total for "
    "weights + activations + KV cache, and fills everything the weights and profiling run "
    "leave with KV-cache blocks. That is by design, not a leak; lower the utilization to "
    "share the card.",
    "Subtracted before the KV cache: weights, peak activation (one profiling batch of "
    "max_num_batched_tokens) and non-torch memory. CUDA graphs are captured afterwards, in "
    "the 1 - utilization remainder (reported, not subtracted).",
    "KV cache tokens are whole 16-token blocks; one block stays reserved as the null block.",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend.planner", description="Plan vLLM GPU memory and KV cache."
    )
    add = parser.add_argument
    add("--model", default=DEFAULT_MODEL, help="known id, config.json, or model directory")
    add("--gpu-memory-gib", type=float, help="GPU memory in GiB (default: nvidia-smi)")
    add("--gpu-memory-utilization", type=float, default=DEFAULT_GPU_MEMORY_UTILIZATION)
    add("--max-model-len", type=int, help="default: the model's max_position_embeddings")
    add("--kv-cache-dtype", default="auto", choices=["auto", *KV_CACHE_DTYPE_BYTES])
    add("--dtype", default="auto", choices=["auto", "bfloat16", "float16", "float32"])
    add("--quantization", default="auto", choices=["auto", "fp8"], help="fp8: online FP8")
    add("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="simultaneous users")
    add("--max-num-batched-tokens", type=int, help="default: vllm serve's per-GPU default")
    add("--cuda-graph-subtracted", action="store_true", help="vLLM subtracts a graph estimate")
    add("--enforce-eager", action="store_true", help="no CUDA graphs")
    add("--json", action="store_true", help="print one JSON object")
    add("--recommend", action="store_true", help="recommend a launch that starts")
    add("--shell", action="store_true", help="with --recommend: VAR=value lines on stdout")
    return parser


def _report(args: argparse.Namespace, gpu_gib: float) -> tuple[Plan, Recommendation | None, dict]:
    spec = load_model_spec(args.model)
    result = plan(
        spec,
        gpu_gib,
        args.gpu_memory_utilization,
        args.max_model_len,
        args.kv_cache_dtype,
        dtype=args.dtype,
        max_num_batched_tokens=args.max_num_batched_tokens,
        cuda_graph_subtracted=args.cuda_graph_subtracted,
        enforce_eager=args.enforce_eager,
        quantization=args.quantization,
    )
    card = smallest_gpu(
        spec,
        args.concurrency,
        result.max_model_len,
        args.gpu_memory_utilization,
        args.kv_cache_dtype,
        quantization=args.quantization,
    )
    try:
        rec = recommend_launch(
            spec,
            gpu_gib,
            args.concurrency,
            args.max_model_len,
            gpu_memory_utilization=args.gpu_memory_utilization,
            kv_cache_dtype=args.kv_cache_dtype,
            quantization=args.quantization,
        )
    except PlanError:
        rec = None
    extra = {
        "concurrency": args.concurrency,
        "smallest_gpu": None if card is None else card.__dict__,
        "recommendation": None if rec is None else rec.to_dict(),
        "notes": list(NOTES),
    }
    return result, rec, extra


def _table(result: Plan, rec: Recommendation | None, extra: dict) -> Table:
    table = Table(title=f"vLLM memory plan: {result.model} on {result.gpu_memory_gib:g} GiB")
    table.add_column("item")
    table.add_column("value", justify="right")
    rows = [
        ("requested (total x utilization)", f"{result.requested_gib:.2f} GiB"),
        (
            "weights" + (f" ({result.weight_quantization})" if result.weight_quantization else ""),
            f"{result.weights_gib:.2f} GiB",
        ),
        ("peak activation (subtracted)", f"{result.peak_activation_gib:.2f} GiB"),
        ("non-torch (subtracted)", f"{result.non_torch_gib:.2f} GiB"),
        (
            "CUDA graphs"
            + (" (subtracted)" if result.cuda_graph_subtracted else " (not subtracted)"),
            f"{result.cuda_graph_gib:.2f} GiB",
        ),
        ("KV bytes per token", f"{result.kv_bytes_per_token:,}"),
        ("available KV cache", f"{result.available_kv_gib:.2f} GiB"),
        ("KV cache tokens", f"{result.kv_cache_tokens:,}"),
        (f"max concurrency at {result.max_model_len:,}", f"{result.max_concurrency:.2f}x"),
        ("one request needs", f"{result.kv_needed_per_request_gib:.3f} GiB"),
    ]
    card = extra["smallest_gpu"]
    rows.append(
        (f"smallest GPU for {extra['concurrency']} users", card["name"] if card else "none")
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def _notes(result: Plan, rec: Recommendation | None) -> list[str]:
    error = [f"[red]cannot start:[/red] {result.error}"] if result.error else []
    advice = [f"[green]recommended:[/green] {rec.summary}"] if rec else []
    return [*error, *(f"[yellow]warning:[/yellow] {w}" for w in result.warnings), *advice, *NOTES]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(stderr=args.shell, soft_wrap=False)
    gpu_gib = args.gpu_memory_gib or detect_gpu_memory_gib()
    if gpu_gib is None:
        return _fail(
            args, "no NVIDIA GPU detected (nvidia-smi absent or failing); pass --gpu-memory-gib"
        )
    try:
        result, rec, extra = _report(args, gpu_gib)
    except (ModelSpecError, KeyError) as exc:
        return _fail(args, str(exc))
    if args.json:
        print(json.dumps({**result.to_dict(), **extra}))
    else:
        out.print(_table(result, rec, extra))
        for note in _notes(result, rec):
            out.print(f"- {note}")
    if args.recommend:
        if rec is None:
            return _fail(args, result.error or "nothing fits", EXIT_DOES_NOT_FIT, quiet=True)
        if args.shell:
            print("\n".join(rec.shell_lines()))
        return EXIT_OK
    return EXIT_OK if result.fits else EXIT_DOES_NOT_FIT


def _fail(
    args: argparse.Namespace, message: str, code: int = EXIT_USAGE, quiet: bool = False
) -> int:
    if args.json and not quiet:
        print(json.dumps({"error": message, "fits": False}))
    else:
        print(f"planner: {message}", file=sys.stderr)
    return code
