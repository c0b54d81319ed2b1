"""Reads the built-in simulator's state file (service/src/provider/simfile.h).

The file is a JSON snapshot of the state followed by one JSON line per change;
a change's collection and job entries replace those with the same path, and
its next_seq and fault_uses replace the snapshot's. A last line without its
newline (being written, or cut short by a crash) is left out, so the file can
be read without the simulator's lock: lines are appended whole and snapshots
are renamed into place.
"""
import json


def load(path):
    """The state in the state file at path, its changes applied: a dict with
    "collections" and "jobs" (lists of entries), "next_seq", "epoch_ms" and
    "fault_uses"."""
    with open(path) as f:
        text = f.read()
    state, end = json.JSONDecoder().raw_decode(text)
    entries = {key: {e["path"]: e for e in state[key]} for key in ("collections", "jobs")}
    # [0]: the rest of the snapshot's last line; [-1]: "" or a line cut short
    for line in text[end:].split("\n")[1:-1]:
        if not line.strip():
            continue
        change = json.loads(line)
        for key, by_path in entries.items():
            by_path.update((e["path"], e) for e in change.get(key, []))
        for key in ("next_seq", "fault_uses"):
            if key in change:
                state[key] = change[key]
    for key, by_path in entries.items():
        state[key] = list(by_path.values())
    return state
