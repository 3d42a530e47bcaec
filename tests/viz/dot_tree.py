"""Reading the cluster nesting back out of DOT text (for the tests)."""
from __future__ import annotations

import re

NODE = re.compile(r"^([A-Za-z_][\w]*) \[")


def cluster_paths(source: str) -> dict[str, list[str]]:
    """``{node id: [outermost cluster label, ..., innermost]}`` for every node in ``source``."""
    stack: list[list[str]] = []                 # [cluster name, label]
    paths: dict[str, list[str]] = {}
    for raw in source.splitlines():
        line = raw.strip()
        if line.startswith("subgraph "):
            stack.append([line.split()[1], ""])
            continue
        if line == "{":                          # an anonymous subgraph (rank=same): no label
            stack.append(["", None])
            continue
        if line == "}":
            if stack:
                stack.pop()
            continue
        if stack and not stack[-1][1] and line.startswith("color=") and 'label="' in line:
            stack[-1][1] = line.split('label="', 1)[1].split('"', 1)[0]
            continue
        m = NODE.match(line)
        if m and m.group(1) not in ("graph", "node", "edge"):
            paths.setdefault(m.group(1), [label for _, label in stack if label is not None])
    return paths
