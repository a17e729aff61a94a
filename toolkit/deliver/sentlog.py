"""The send log ``OUT/mail/sent.jsonl``: what was sent, so that a re-run sends only the rest.

Every entry is appended at once (flushed and fsync'd), so a re-run — after a crash, or after some
units corrected their workbooks — sends only what has not been sent yet.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from toolkit.deliver.message import Draft

MAIL_DIR = "mail"
SENT_LOG = "sent.jsonl"


class SentLog:
    """``mail/sent.jsonl``: an "attempt" line is written (and fsync'd) before a message goes out, then
    "sent" or "failed" after; an attempt with no outcome (a crash, a line dropped after DATA) is an
    unknown outcome, never retried blindly. Lines without "state" (older logs) are "sent"."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[tuple[str, str, str], str] = {}
        self._cut = False  # the last line was cut short by a crash: start a new line
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            self._cut = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    e = json.loads(line)
                    self.state[(str(e["unit"]), str(e["hash"]), str(e["to"]))] = str(e.get("state", "sent"))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that send is simply not known

    @staticmethod
    def _key(draft: Draft) -> tuple[str, str, str]:
        return (draft.key, draft.content_hash, draft.to_text)

    def last(self, draft: Draft) -> str | None:
        return self.state.get(self._key(draft))

    def has(self, draft: Draft) -> bool:
        return self.last(draft) == "sent"

    def pending(self, draft: Draft) -> bool:
        """A previous attempt whose outcome is unknown."""
        return self.last(draft) in ("attempt", "unknown")

    def add(self, draft: Draft, message_id: str | None, state: str = "sent") -> None:
        entry = {"unit": draft.key, "file": draft.file, "status": draft.status, "to": draft.to_text,
                 "subject": draft.subject, "hash": draft.content_hash, "message_id": message_id,
                 "state": state, "at": datetime.now().astimezone().isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(("\n" if self._cut else "") + json.dumps(entry, ensure_ascii=False) + "\n")
            self._cut = False
            fh.flush()
            os.fsync(fh.fileno())
        self.state[self._key(draft)] = state
