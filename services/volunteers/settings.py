"""The volunteers service's own settings, on the base every service shares."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class VolunteersSettings(Settings):
    # volunteers: rows one import request may carry (the CLI uploads in chunks below it).
    volunteers_import_max_rows: int = Field(default=20_000, ge=1)
