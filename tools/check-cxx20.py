#!/usr/bin/env python3
"""Compiles every source of a C++17 build of bnx as C++20, syntax only, from the build's own compile
commands: LibTorch 2.12 and later build bnx as C++20 (CMakeLists.txt), while this machine's LibTorch
1.13 builds it as C++17, so without this check the C++20 path would never be compiled here. A C++20
precompiled <torch/torch.h> stands in for the build's C++17 one.

Loading that header costs about 7 CPU-seconds a compiler run (600 MB), more than most sources' own
code, so the sources that share a command line are checked together, a few to a run (a generated
file that includes them); when such a batch fails, each of its sources is checked alone, and only
those results count (a batch can also fail because two sources define the same internal name).

    tools/check-cxx20.py [BUILD_DIR] [--jobs N] [--batch N]

Exit status 0 when every source compiles, 1 when one does not (its errors are printed), 2 on bad
input (no compile_commands.json).
"""
import argparse
import collections
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time


def cxx20_args(argv, pch):
    """The compile command `argv` (C++17, -o OUT -c SRC) as a C++20 syntax check of SRC."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a in ("-o", "-include") and i + 1 < len(argv):
            skip = True
            if a == "-include" and argv[i + 1].endswith("cmake_pch.hxx"):
                out += ["-include", pch]
            elif a == "-include":
                out += argv[i:i + 2]
        elif a.startswith("-std="):
            out.append(a.replace("++17", "++20"))
        elif a == "-c":
            out.append("-fsyntax-only")
        else:
            out.append(a)
    return out


def batches(commands, size):
    """`commands` (directory, source, argv) grouped by their C++20 command line less the source, in
    batches of at most `size` sources: [(directory, the first source's compile command, [sources])]."""
    groups = collections.OrderedDict()
    for directory, source, argv in commands:
        args = cxx20_args(argv, "PCH")
        groups.setdefault((directory, tuple(args[:-1])), (argv, []))[1].append(source)
    out = []
    for (directory, _), (argv, sources) in groups.items():
        for i in range(0, len(sources), size):
            out.append((directory, argv, sources[i:i + size]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", nargs="?", default="build", metavar="BUILD_DIR")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=8, help="sources checked in one compiler run (1: each alone)")
    args = parser.parse_args()
    if args.batch < 1 or args.jobs < 1:
        print("check-cxx20.py: --batch and --jobs must be at least 1", file=sys.stderr)
        sys.exit(2)
    db = os.path.join(args.build, "compile_commands.json")
    if not os.path.isfile(db):
        print(f"check-cxx20.py: {db}: no such file (configure the build with CMake first; "
              f"CMakeLists.txt sets CMAKE_EXPORT_COMPILE_COMMANDS)", file=sys.stderr)
        sys.exit(2)
    entries = json.load(open(db))
    # One check per distinct command: a source built alike for several targets (the tests' shared
    # main) is checked once. CMake's own sources of the precompiled headers hold no bnx code.
    commands = list({tuple(cxx20_args(shlex.split(e["command"]), "PCH")): (e["directory"], e["file"],
                     shlex.split(e["command"])) for e in entries
                     if not e["file"].endswith("cmake_pch.hxx.cxx")}.values())
    if any("-std=c++20" in argv or "-std=gnu++20" in argv for _, _, argv in commands):
        print(f"check-cxx20.py: {args.build} is a C++20 build already (LibTorch 2.12 or later); nothing to check")
        return

    with tempfile.TemporaryDirectory(prefix="bnx-cxx20-") as tmp:
        pch = os.path.join(tmp, "torch_pch.hxx")
        start = time.time()
        # The precompiled header, compiled with the flags most of the sources use (its content is the
        # build's own precompiled header's: <torch/torch.h>). A source whose flags it does not suit
        # still compiles, from the header text (slower; -Winvalid-pch says so).
        with_pch = [argv for _, _, argv in commands if any(a.endswith("cmake_pch.hxx") for a in argv)]
        if with_pch:
            with open(pch, "w") as f:
                f.write("#include <torch/torch.h>\n")
            # GCC rejects a precompiled header made with a macro that a source's command does not
            # define, so it gets just the -D flags every command has.
            common_defines = set.intersection(*(set(a for a in argv if a.startswith("-D")) for argv in with_pch))
            flags = collections.Counter(
                tuple(a for a in cxx20_args(argv, pch)[:-1] if a not in ("-fsyntax-only", "-include", pch)
                      and (not a.startswith("-D") or a in common_defines))
                for argv in with_pch).most_common(1)[0][0]
            subprocess.run(list(flags) + ["-x", "c++-header", pch, "-o", pch + ".gch"], check=True)
            print(f"check-cxx20.py: C++20 <torch/torch.h> precompiled in {time.time() - start:.0f} s")

        def compile(directory, argv, sources, name):
            """Checks `sources` in one compiler run with `argv`'s flags: (returncode, stderr)."""
            if len(sources) == 1:
                source = sources[0]
            else:
                source = os.path.join(tmp, name)
                with open(source, "w") as f:
                    f.writelines(f'#include "{os.path.join(directory, s)}"\n' for s in sources)
            run = cxx20_args(argv, pch)[:-1] + [source]
            proc = subprocess.run(run, cwd=directory, capture_output=True, text=True)
            return proc.returncode, proc.stderr

        def check(numbered):
            """[(sources, returncode, stderr)] for one batch: its own result when it compiles (or
            is one source), else each source's alone; and the batch's first error when rechecked so
            (None when not)."""
            i, (directory, argv, sources) = numbered
            rc, stderr = compile(directory, argv, sources, f"batch_{i}.cpp")
            if rc == 0 or len(sources) == 1:
                return [(sources, rc, stderr)], None
            first_error = next((line for line in stderr.splitlines() if "error" in line), "")
            return [([s],) + compile(directory, argv, [s], None) for s in sources], first_error

        work = sorted(batches(commands, args.batch), key=lambda b: -len(b[2]))  # the longest first
        failed = retried = 0
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for results, batch_error in pool.map(check, enumerate(work)):
                if batch_error is not None:
                    retried += 1
                    print(f"rechecked alone, as their batch failed ({batch_error.strip()}): "
                          + " ".join(os.path.relpath(s) for (s,), _, _ in results))
                for sources, rc, stderr in results:
                    rel = " ".join(os.path.relpath(s) for s in sources)
                    if rc != 0:
                        failed += 1
                        print(f"FAILED {rel}\n{stderr}")
                    elif stderr.strip():
                        print(f"warnings {rel}\n{stderr}")
        print(f"check-cxx20.py: {len(commands) - failed} of {len(commands)} sources compile as C++20 "
              f"({len(work)} compiler runs, {retried} batches rechecked source by source; "
              f"{time.time() - start:.0f} s, {args.jobs} jobs)")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
