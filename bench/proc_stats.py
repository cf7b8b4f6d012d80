"""CPU time of a server process and its descendants, from /proc.

`hypercorn --workers 1` (how the shared baselines are served) answers from a
child process, while `python -m app` answers from its own: counting the whole
tree measures both the same way. A parent's own stat counts a child only after
waiting for it, so the children are read one by one.
"""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces); [] once gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def _cpu_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


def _process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, found by parent id in /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat_fields(int(entry))):
            parents.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds so far of `root` and its descendants."""
    return sum(_cpu_ticks(pid) for pid in _process_tree(root)) / os.sysconf("SC_CLK_TCK")
