"""Re-vendor the map pages' JavaScript and CSS from the npm registry (a maintenance tool).

The pages must open on offline government networks, so Leaflet and its plugins ship
inside the package (maps/assets/) instead of being linked from a CDN. This tool fetches
the pinned versions with ``npm pack``, checks each tarball against the registry's
integrity hash, copies the files the pages use and records their sha256 and licence in
maps/assets/manifest.json. Run it only to change a version:

    python -m maps.vendor
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
MANIFEST = ASSETS / "manifest.json"

# name → version, licence, and the files taken from the package (paths inside package/).
PACKAGES = {
    "leaflet": {
        "version": "1.9.4",
        "license": "BSD-2-Clause",
        "files": ["LICENSE", "dist/leaflet.js", "dist/leaflet.css", "dist/images/layers.png",
                  "dist/images/layers-2x.png", "dist/images/marker-icon.png", "dist/images/marker-icon-2x.png",
                  "dist/images/marker-shadow.png"],
    },
    "leaflet-measure": {
        "version": "3.1.0",
        "license": "MIT",
        "files": ["LICENSE", "dist/leaflet-measure.cn.js", "dist/leaflet-measure.css"]
        + [f"dist/assets/{icon}{scale}.png" for icon in ("cancel", "check", "focus", "rulers", "start", "trash")
           for scale in ("", "_@2X")],
    },
    # Drawing a site (point, line, polygon) on the check map; its CSS carries its icons as data: URIs.
    "@geoman-io/leaflet-geoman-free": {
        "version": "2.20.2",
        "license": "MIT",
        "files": ["LICENSE", "dist/leaflet-geoman.min.js", "dist/leaflet-geoman.css"],
    },
}


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_integrity(tarball: Path, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise RuntimeError(f"{tarball.name}: integrity mismatch ({integrity} expected)")


def vendor_package(name: str, spec: dict, workdir: Path) -> dict:
    """Fetch one package with npm, verify it and copy its files into maps/assets/<name>-<version>/."""
    done = subprocess.run(["npm", "pack", f"{name}@{spec['version']}", "--json", "--pack-destination", str(workdir)],
                          capture_output=True, text=True, check=True)
    packed = json.loads(done.stdout)[0]
    tarball = workdir / packed["filename"]
    _check_integrity(tarball, packed["integrity"])
    target = ASSETS / f"{name.rpartition('/')[2]}-{spec['version']}"
    shutil.rmtree(target, ignore_errors=True)
    files = {}
    with tarfile.open(tarball) as archive:
        for member_path in spec["files"]:
            data = archive.extractfile(f"package/{member_path}").read()
            relative = member_path.removeprefix("dist/")
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(data)
            files[relative] = sha256_bytes(data)
    return {"version": spec["version"], "license": spec["license"], "directory": target.name,
            "source": f"npm {name}@{spec['version']}", "tarball_integrity": packed["integrity"], "files": files}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = {name: vendor_package(name, spec, Path(tmp)) for name, spec in PACKAGES.items()}
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    versions = ", ".join(f"{name}@{entry['version']}" for name, entry in manifest.items())
    print(f"vendored {versions} → {ASSETS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
