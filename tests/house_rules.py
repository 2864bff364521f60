#!/usr/bin/python3
"""The house rules of harness/ (and include/allocproof/, where the cell runner and probes moved),
checked by machine (issue 15).

    tests/house_rules.py SOURCE_DIR [BUILD_DIR]

1. No function in harness/ is longer than 80 lines (C++ and Python; a lambda counts toward the
   function it is written in).
2. No logic in harness/ is written twice: no two places share a run of six or more lines that are
   the same once spaces are collapsed, not counting lines that carry no logic of their own
   (blank, comments, lone braces, includes, `namespace`, access labels).

Prints every breach with its place and exits 1 if there is any. C++ is read as text: comments
and string literals are blanked, then braces are matched; a brace opens a function body when what
stands before it ends in a parameter list (and qualifiers) and is not a control statement.
"""

import ast
import re
import sys
from pathlib import Path

LONGEST_FUNCTION = 80
SHARED_RUN = 6
CONTROL = re.compile(r"\b(if|for|while|switch|catch)\s*\(")
SCOPE = re.compile(r"\b(namespace|class|struct|enum|union)\b[^()]*$")
AFTER_PARAMETERS = re.compile(r"\)\s*((const|noexcept|override|final|mutable)\s*|->[^{;]*)*$")


def blank_comments_and_strings(text, keep_strings=False):
    """The text with comments (and, unless keep_strings, literals) blanked; line breaks are kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        raw = re.match(r'R"([^(\s]*)\(', text[i:i + 20]) if text[i] == "R" and (i == 0 or not text[i - 1].isalnum()) else None
        if raw:
            end = text.find(")" + raw.group(1) + '"', i) + len(raw.group(1)) + 2
            out.append(text[i:end] if keep_strings else '""' + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
            continue
        if text[i] in "\"'" and not (text[i] == "'" and i > 0 and text[i - 1].isalnum()):
            quote, j = text[i], i + 1
            while j < n and text[j] != quote and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1] if keep_strings else quote * 2)
            i = j + 1
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def long_cpp_functions(path):
    """(first line, name, length) of each outermost function body longer than the limit."""
    lines = blank_comments_and_strings(path.read_text(encoding="utf-8")).split("\n")
    found, open_braces, head = [], [], ""
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("#"):
            continue
        for char in line:
            if char == "{":
                last_line = head.strip().split("\n")[-1] if head.strip() else ""
                is_function = (AFTER_PARAMETERS.search(head.strip()) and not SCOPE.search(head)
                               and not CONTROL.search(last_line))
                inside_function = any(kind == "function" for kind, _, _ in open_braces)
                names = re.findall(r"([~\w:]+)\s*\(", head)
                kind = "function" if is_function and not inside_function else "block"
                open_braces.append((kind, number, names[0] if names else "?"))
                head = ""
            elif char == "}":
                if open_braces:
                    kind, first, name = open_braces.pop()
                    if kind == "function" and number - first + 1 > LONGEST_FUNCTION:
                        found.append((first, name, number - first + 1))
                head = ""
            elif char == ";":
                head = ""
            else:
                head += char
        head += "\n"
    return found


def long_python_functions(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION]


NO_LOGIC = re.compile(r"^([{}();,\s]*|#include.*|#pragma once|(}\s*)?namespace\b.*|(public|private|protected):|"
                      r"\"\"\"|else|return;|break;|continue;|try|\)\s*:|default:|[A-Za-z_]\w*\(\);?)$")


def logic_lines(path):
    """(line number, normalised text) of the lines that carry logic, in order."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        text = re.sub(r"#.*", "", text)
    else:
        text = blank_comments_and_strings(text, keep_strings=True)
    out = []
    for number, line in enumerate(text.split("\n"), 1):
        normal = " ".join(line.split())
        if normal and not NO_LOGIC.match(normal):
            out.append((number, normal))
    return out


def shared_runs(files):
    """Pairs of places whose SHARED_RUN consecutive logic lines are the same."""
    seen, pairs = {}, []
    for path in files:
        lines = logic_lines(path)
        for start in range(len(lines) - SHARED_RUN + 1):
            window = tuple(text for _, text in lines[start:start + SHARED_RUN])
            place = (path, lines[start][0], lines[start + SHARED_RUN - 1][0])
            earlier = seen.setdefault(window, place)
            if earlier is not place and not (earlier[0] == path and place[1] <= earlier[2]):
                pairs.append((earlier, place))
    # One row per pair of files and first place: consecutive windows of one long run are one breach.
    rows, last = [], {}
    for a, b in pairs:
        key = (a[0], b[0])
        if key in last and a[1] <= last[key][0][2] + 1 and b[1] <= last[key][1][2] + 1:
            last[key] = ((a[0], last[key][0][1], a[2]), (b[0], last[key][1][1], b[2]))
            rows[-1] = last[key]
            continue
        last[key] = (a, b)
        rows.append((a, b))
    return rows


def main():
    source = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
    # harness/, and the cell runner and probes that moved from it to include/allocproof/.
    files = sorted(p for folder in (source / "harness", source / "include" / "allocproof")
                   for p in folder.rglob("*") if p.suffix in (".cpp", ".hpp", ".py"))
    breaches = []
    for path in files:
        long = long_python_functions(path) if path.suffix == ".py" else long_cpp_functions(path)
        for first, name, length in long:
            breaches.append(f"{path.relative_to(source)}:{first}: {name} is {length} lines (at most {LONGEST_FUNCTION})")
    for a, b in shared_runs(files):
        breaches.append(f"{a[0].relative_to(source)}:{a[1]}-{a[2]} is written again at "
                        f"{b[0].relative_to(source)}:{b[1]}-{b[2]}")
    for breach in breaches:
        print(breach)
    print(f"house rules: {len(files)} files of harness/ and include/allocproof/, {len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
