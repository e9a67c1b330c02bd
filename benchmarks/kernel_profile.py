"""Where a numba kernel of the CPU rasterizer spends its cycles, instruction by instruction.

    perf record -F 4000 -o /tmp/k.data .venv/bin/python benchmarks/kernel_profile.py \
        run rasterize_forward [--seconds 8]
    .venv/bin/python benchmarks/kernel_profile.py annotate /tmp/k.data [--top 40]

A profiling aid, not a comparison. ``run`` renders `render.py`'s 20k/256 scene once (fwd +
bwd), then calls the named kernel (``rasterize_forward``, ``rasterize_backward``,
``project_forward``, ``project_backward``, ``sum_pairs``, ``gather_pairs``) on the same
inputs in a loop. It compiles the kernels afresh (a temporary numba cache), so that
their machine code is at hand: it writes the code of every function it compiled to
/tmp/kernel_profile/*.o and their addresses to /tmp/perf-PID.map, where perf looks for
the names of JIT code. ``annotate`` then attributes perf's samples to the hottest
kernel function's instructions (with objdump) and prints the busiest ones with their
neighbours, and the share of each 256-byte stretch of code.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OBJECTS = Path("/tmp/kernel_profile")


def run(kernel: str, seconds: float) -> None:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="kernel-profile-")
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from render import THREADS, make_scene
    from setsplat.render import rasterize
    from setsplat.render.cpu import projection_kernels, raster_kernels

    torch.set_num_threads(THREADS)
    module = next(m for m in (raster_kernels, projection_kernels) if hasattr(m, kernel))
    dispatcher = getattr(module, kernel)
    captured = {}

    def capture(*args):
        captured["args"] = args
        return dispatcher(*args)

    setattr(module, kernel, capture)
    params, viewmats, ks = make_scene(20_000, 256, 256)
    for p in params:
        p.requires_grad_(True)
    out = rasterize(*params, viewmats, ks, 256, 256, sh_degree=3, backend="cpu")
    weights = torch.rand((1, 256, 256, 4), generator=torch.Generator().manual_seed(1))
    torch.autograd.backward([out.rgb, out.depth],
                            [weights[..., :3].contiguous(), weights[..., 3:].contiguous()])
    setattr(module, kernel, dispatcher)
    _write_map(dispatcher)
    args, calls, start = captured["args"], 0, time.perf_counter()
    with raster_kernels.tiles_in_small_chunks():
        while time.perf_counter() - start < seconds:
            dispatcher(*args)
            calls += 1
    print(f"{kernel}: {calls} calls, {(time.perf_counter() - start) / calls * 1e3:.3f} ms each")


def _write_map(dispatcher) -> None:
    """Each compiled function's address (perf's map of JIT code) and object code."""
    OBJECTS.mkdir(exist_ok=True)
    for old in OBJECTS.glob("*.o"):
        old.unlink()
    libraries, entries = [], []
    for result in dispatcher.overloads.values():
        pending = [result.library]
        while pending:
            library = pending.pop()
            if any(library is known for known in libraries):
                continue
            libraries.append(library)
            pending.extend(getattr(library, "_linking_libraries", []))
    for number, library in enumerate(libraries):
        try:
            code = library._get_compiled_object()
        except (RuntimeError, ValueError):  # numba's own wrappers keep none
            continue
        (OBJECTS / f"{number}.o").write_bytes(code)
        for function in library._final_module.functions:
            if not function.is_declaration:
                address = library.get_pointer_to_function(function.name)
                if address:
                    entries.append((address, function.name))
    entries.sort()
    ends = [address for address, _ in entries[1:]] + [entries[-1][0] + 0x10000]
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as out:
        for (address, name), end in zip(entries, ends):
            out.write(f"{address:x} {end - address:x} {name}\n")


def annotate(data: str, top: int) -> None:
    samples = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
    by_symbol = collections.Counter(line.split(maxsplit=1)[1] for line in samples
                                    if len(line.split(maxsplit=1)) == 2)
    kernels = [name for name, _ in by_symbol.most_common() if "numba" in name
               or name.startswith("_ZN8setsplat")]
    if not kernels:
        sys.exit("error: no samples in numba code — run `run` under `perf record` first")
    hot = kernels[0]
    maps = sorted(Path("/tmp").glob("perf-*.map"), key=os.path.getmtime)
    base = next(int(line.split()[0], 16) for line in maps[-1].read_text().splitlines()
                if line.split()[2] == hot)
    hits = collections.Counter(int(line.split()[0], 16) - base for line in samples
                               if line.endswith(hot))
    listing = []
    for obj in OBJECTS.glob("*.o"):
        text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)],
                              capture_output=True, text=True).stdout
        start = text.find(f"<{hot}>:")
        if start >= 0:
            body = text[start:].split("\n\n")[0].splitlines()[1:]
            listing = [(int(m[1], 16), m[2]) for m in
                       (re.match(r"\s+([0-9a-f]+):\s+(.*)", line) for line in body) if m]
            break
    total = sum(hits.values())
    print(f"{hot[:100]}\n{total} samples, {100 * total / len(samples):.0f}% of all")
    stretches = collections.Counter()
    for offset, count in hits.items():
        stretches[offset // 256] += count
    for stretch, count in sorted(stretches.items()):
        if count / total >= 0.01:
            print(f"  {stretch * 256:6x}-{stretch * 256 + 256:6x} {100 * count / total:5.1f}%")
    busiest = {offset for offset, _ in hits.most_common(top)}
    shown = -2
    for index, (offset, instruction) in enumerate(listing):
        near = any(o in busiest for o, _ in listing[max(0, index - 1):index + 3])
        if near:
            if index != shown + 1:
                print("   ...")
            print(f"{100 * hits[offset] / total:5.1f} {offset:6x} {instruction[:90]}")
            shown = index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("kernel")
    run_parser.add_argument("--seconds", type=float, default=8.0)
    annotate_parser = commands.add_parser("annotate")
    annotate_parser.add_argument("data")
    annotate_parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    if args.command == "run":
        run(args.kernel, args.seconds)
    else:
        annotate(args.data, args.top)


if __name__ == "__main__":
    main()
