#!/usr/bin/env python3
"""The shape of the code base (issue 17's before/after figures), from the sources alone:
lines per crate (Rust, tests excluded from `src/`'s count where they sit in `#[cfg(test)]`
modules is not attempted: whole files), production functions longer than a limit, and the
files that import the application state.

    ops/review/code_shape.py [limit]        (default 80 lines)
"""
import pathlib, re, sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 80
CRATES = sorted(p.parent for p in ROOT.glob("*/Cargo.toml"))
FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def strip(line):
    """The line without string literals and `//` comments (good enough to count braces)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def functions(path):
    """(name, first line, length) of each fn with a body, outside #[cfg(test)] modules."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i, in_test = [], 0, None
    depth = 0
    while i < len(lines):
        text = strip(lines[i])
        if "#[cfg(test)]" in lines[i] and in_test is None:
            in_test = depth
        m = FN.match(lines[i])
        if m and in_test is None:
            d, j, opened = 0, i, False
            while j < len(lines):
                t = strip(lines[j])
                if not opened and ";" in t and "{" not in t:
                    break
                d += t.count("{") - t.count("}")
                opened = opened or "{" in t
                if opened and d <= 0:
                    out.append((m.group(5), i + 1, j - i + 1))
                    break
                j += 1
        depth += text.count("{") - text.count("}")
        if in_test is not None and depth <= in_test and "}" in text:
            in_test = None
        i += 1
    return out


def main():
    print(f"{'crate':<16} {'files':>5} {'lines':>7}")
    long_fns = []
    for crate in CRATES:
        files = [p for p in crate.rglob("*.rs") if "target" not in p.parts]
        n = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in files)
        print(f"{crate.name:<16} {len(files):>5} {n:>7}")
        if crate.name == "tests":
            continue
        for p in crate.glob("src/**/*.rs"):
            for name, line, length in functions(p):
                if length > LIMIT:
                    long_fns.append((length, f"{p.relative_to(ROOT)}:{line}", name))
    print(f"\nproduction functions over {LIMIT} lines: {len(long_fns)}")
    for length, where, name in sorted(long_fns, reverse=True):
        print(f"  {length:>4}  {name}  {where}")
    state = [p for p in ROOT.glob("*/src/**/*.rs") if re.search(r"\bAppState\b", p.read_text(encoding="utf-8"))]
    print(f"\nfiles naming AppState: {len(state)}")


if __name__ == "__main__":
    main()
