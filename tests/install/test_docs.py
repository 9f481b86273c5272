"""The README stands alone: every setting is documented, every link points inside the
repository, and the installer it shows is shipped (and parses)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from jopanel.install.config import HIDDEN
from jopanel.settings import Settings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for name in Settings.model_fields:
        if name not in HIDDEN:
            assert f"`{name}`" in section, f"setting {name} missing from README Configuration"


def test_links_stay_inside_the_repository() -> None:
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text):
            assert not target.startswith(("http://", "https://", "/")), (doc.name, target)
            assert (doc.parent / target).exists(), (doc.name, target)


def test_install_sh_is_shipped_and_parses() -> None:
    script = REPO / "install.sh"
    assert script.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=30)
    assert "./install.sh" in README
