"""The user documentation: the MkDocs site builds with every link and anchor checked, and the README stays short,
its relative links pointing at files that exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_README_LINES = 350
# Inline Markdown links and images: [text](target) or ![alt](target), the target up to a space or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
# Fenced code blocks hold examples, not links.
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def relative_links(markdown: str) -> list[str]:
    """Every link target of `markdown` outside code blocks that is a path (no scheme, no bare anchor)."""
    text = FENCE.sub("", markdown)
    targets = LINK.findall(text)
    return [target for target in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of `config` into `site`."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """`--strict` turns every warning into a failure: a link or anchor to nothing, a page missing from the nav."""
    site = tmp_path / "site"
    result = build(ROOT / "mkdocs.yml", site)

    assert result.returncode == 0, result.stderr + result.stdout
    assert (site / "index.html").is_file()
    assert (site / "design" / "index.html").is_file()


def test_a_broken_link_or_anchor_fails_the_build(tmp_path: Path) -> None:
    """The strict build itself: a copy of the site with a link to a missing page and one to a missing anchor."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    with (tmp_path / "docs" / "index.md").open("a", encoding="utf-8") as page:
        page.write("\n[gone](no-such-page.md) and [nowhere](design.md#no-such-heading)\n")

    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")

    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr
    assert "#no-such-heading" in result.stderr


def test_the_readme_is_at_most_350_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()

    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_every_relative_link_of_the_readme_points_to_a_file() -> None:
    links = relative_links(README.read_text(encoding="utf-8"))

    assert links, "the README links to no page of docs/"
    missing = [link for link in links if not (ROOT / link.split("#", 1)[0]).is_file()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_a_link_to_a_missing_file_is_found() -> None:
    """The link check itself: a planted broken link is reported, links in code and to the web are not."""
    markdown = (
        "See [the design](docs/design.md#layout) and [nothing](docs/no-such-page.md), ![logo](docs/x.png),\n"
        "[the web](https://example.invalid/a.md) and [an anchor](#flags).\n"
        "```md\n[in code](docs/ignored.md)\n```\n"
    )

    links = relative_links(markdown)

    assert links == ["docs/design.md#layout", "docs/no-such-page.md", "docs/x.png"]
    assert [link for link in links if not (ROOT / link.split("#", 1)[0]).is_file()] == [
        "docs/no-such-page.md",
        "docs/x.png",
    ]
