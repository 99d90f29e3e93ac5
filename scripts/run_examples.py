"""Check every example site through the real CLI and write its map; the demo's main job."""

from __future__ import annotations

import sys
from pathlib import Path

from layers import catalog
from siting.cli.main import main as siting


def run(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    for number, example in enumerate(catalog.read_yaml("examples.yaml"), 1):
        print(f"\n===== 示例 {number}：{example['name']} =====", flush=True)
        status = siting([
            "check", "--lon", str(example["lon"]), "--lat", str(example["lat"]),
            "--industry", example["industry"], "--stage", example["stage"],
            "--map", str(out_dir / f"example_{number}.html"),
        ])
        if status != 0:
            return status
    print(f"\n地图已写入 {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out")))
