"""Where sign-in codes go: a text-message gateway behind one small interface."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol


class SmsProvider(Protocol):
    async def send_text(self, phone: str, text: str) -> None: ...


class SmsLogFile:
    """The log-only provider: one JSON line per message, {"to", "text", "sent_at"}, appended
    to a file (var/log/sms.jsonl). The only place a code is ever written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send_text(self, phone: str, text: str) -> None:
        line = json.dumps(
            {"to": phone, "text": text, "sent_at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
