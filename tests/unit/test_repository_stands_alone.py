"""The repository stands on its own: no tracked file reads or links anything outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The checkout's own path, a sibling folder of it, this machine's work tree, or a path built
# from the checkout's parent. (Examples below are assembled so that this file does not match.)
OUTSIDE = re.compile(
    re.escape(str(ROOT)) + r"|\.\./shared\b|(?<![\w.])/wor[k]/|ROOT\.parent\b|parents\[[3-9]\]"
)
UP, WORK, PARENT = "..", "/" + "work", "ROOT" + ".parent"


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
    ).stdout.split(b"\0")
    return [ROOT / n.decode() for n in names if n]


def references_outside(text: str) -> list[str]:
    return [m.group(0) for m in OUTSIDE.finditer(text)]


def test_the_check_sees_each_kind_of_outside_reference() -> None:
    assert references_outside(f"see [it]({UP}/shared/contract.md)") == [f"{UP}/shared"]
    assert references_outside(f'open("{WORK}/shared/domain.md")') == [f"{WORK}/"]
    assert references_outside(f'{PARENT} / "shared"') == [PARENT]
    assert references_outside(f"{ROOT}/var/node") == [str(ROOT)]
    assert references_outside("docs/contract.md and /srv/services/x.py") == []


def test_no_tracked_file_refers_outside_the_repository() -> None:
    files = tracked_text_files()
    assert len(files) > 100 and ROOT / "README.md" in files  # the listing worked
    found = {}
    for path in files:
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text
        hits = references_outside(text)
        if hits:
            found[str(path.relative_to(ROOT))] = sorted(set(hits))
    assert found == {}, f"files that refer outside the repository: {found}"


def test_the_documents_the_readme_links_are_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)\)", readme)
    local = [link for link in links if "://" not in link]
    assert {"docs/domain.md", "docs/contract.md", "docs/architecture.md"} <= set(local)
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []
