"""The CJK font for printed figures: Noto Sans CJK SC from Debian's fonts-noto-cjk.

matplotlib's bundled DejaVu has no Chinese glyphs and would print tofu boxes, so a
figure refuses to render without a CJK font rather than print an unreadable map.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

from matplotlib import font_manager

FAMILY = "Noto Sans CJK SC"
_SEARCH_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".local/share/fonts"))
_FILE_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf")


class FontMissing(RuntimeError):
    pass


def _fontconfig_path() -> Path | None:
    if not shutil.which("fc-match"):
        return None
    done = subprocess.run(["fc-match", "-f", "%{file}", f"{FAMILY}:style=Regular"], capture_output=True, text=True,
                          check=False)
    path = Path(done.stdout.strip())
    return path if done.returncode == 0 and path.name.startswith("Noto") and "CJK" in path.name.upper() else None


def font_path() -> Path:
    """The font file: $SITING_CJK_FONT, else fontconfig's match, else a search of the font directories."""
    if os.environ.get("SITING_CJK_FONT"):
        return Path(os.environ["SITING_CJK_FONT"])
    if found := _fontconfig_path():
        return found
    for directory in map(Path, _SEARCH_DIRS):
        for name in _FILE_NAMES:
            hits = sorted(directory.rglob(name)) if directory.is_dir() else []
            if hits:
                return hits[0]
    raise FontMissing("没有找到中文字体 Noto Sans CJK（请以 root 运行 scripts/setup_env.sh 或 apt-get install fonts-noto-cjk）；"
                      "No Noto Sans CJK font found: install Debian's fonts-noto-cjk or set SITING_CJK_FONT.")


@cache
def cjk_family() -> str:
    """Register the CJK font with matplotlib once and return the family name to use."""
    path = font_path()
    before = {entry.name for entry in font_manager.fontManager.ttflist}
    font_manager.fontManager.addfont(str(path))
    families = {entry.name for entry in font_manager.fontManager.ttflist if Path(entry.fname) == path} | before
    for family in (FAMILY, "Noto Sans CJK", "Noto Sans SC"):
        if family in families:
            return family
    raise FontMissing(f"{path} holds no Simplified Chinese face ({FAMILY})")
