"""Write the footage manifest (src/vidsim/data/footage.json) from the installed packages.

    apt-get install gcompris-qt-data plasma-workspace-wallpapers
    pip install comfyui-workflow-templates-media-video==0.3.101
    python tools/footage_manifest.py

Lists, with SHA-256, size and licence, every file `vidsim.bench.footage` may turn into training
video: the animated WebP clips of the ComfyUI media package (MIT; one per workflow template, as a
template's `-2` clip shows the same scene as its `-1`, an input beside its edit); the WebP photographs (>= 600 px
wide) inside GCompris's Qt resource files whose credits (the README beside them in the same
resource file: the package's copyright file is older than its file names) say public domain,
CC0 or CC-BY ("permissive"); and the photographs among the Plasma wallpapers (LGPL-3 or
CC-BY-SA-4.0: "copyleft", used only when asked for). Media is never committed; only this list.
"""
from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vidsim.bench.rcc import rcc_entries, rcc_read  # noqa: E402
from vidsim.fsutil import atomic_open  # noqa: E402

OUT = ROOT / "src" / "vidsim" / "data" / "footage.json"
GCOMPRIS = ("apt", "gcompris-qt-data")
COMFY = ("pypi", "comfyui-workflow-templates-media-video", "0.3.101")
PLASMA = ("apt", "plasma-workspace-wallpapers")
MIN_WIDTH = 600
#: the Plasma wallpapers that are photographs (the others are drawings or renders), looked at one by one
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "Kite", "OneStandsOut", "Path", "summer_1am")


def _apt_version(package: str) -> str:
    import subprocess

    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _licence(text: str) -> tuple[str, str] | None:
    """(SPDX-like id, group) of a credits line; None for licences vidsim does not train on."""
    t = text.strip().lower().replace(" ", "-")
    if t.startswith("public-domain"):
        return "public-domain", "permissive"
    if t.startswith("cc0"):
        return "CC0-1.0", "permissive"
    m = re.match(r"cc-by-(sa-)?(\d\.\d)", t)
    if m:
        return (f"CC-BY-SA-{m.group(2)}", "copyleft") if m.group(1) else (f"CC-BY-{m.group(2)}", "permissive")
    return None


def _credits(text: str) -> dict[str, dict[str, str]]:
    """File name -> {Copyright, License, Source} from a GCompris resource README (blocks of
    `Key: value` lines, `Files:` followed by names on the same or the next lines)."""
    out: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        files: list[str] = []
        in_files = False
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() in ("Copyright", "License", "Source", "Comments", "Files"):
                in_files = key.strip() == "Files"
                if in_files:
                    files += value.split()
                else:
                    fields[key.strip()] = value.strip()
            elif in_files:
                files += line.split()
        for name in files:
            out[name] = fields
    return out


def gcompris_files(version: str) -> list[dict]:
    rows = []
    for rcc in sorted(Path("/usr/share/gcompris-qt/rcc").glob("*.rcc")):
        buf = rcc.read_bytes()
        entries = rcc_entries(buf, str(rcc))
        readmes = {e.path.rsplit("/", 1)[0]: _credits(rcc_read(buf, e).decode("utf-8", "replace"))
                   for e in entries if e.path.endswith("/README")}
        for e in entries:
            if not e.path.endswith(".webp") or e.compressed:
                continue
            data = rcc_read(buf, e)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
            if width < MIN_WIDTH:
                continue
            folder, name = e.path.rsplit("/", 1)
            credit = next((readmes[d][rel] for d in readmes
                           if folder.startswith(d) and (rel := f"{folder[len(d):].lstrip('/')}/{name}".lstrip("/"))
                           in readmes[d]), None)
            licence = _licence(credit.get("License", "")) if credit else None
            if credit is None or licence is None:
                continue
            stem = re.sub(r"[^a-z0-9]+", "-", f"{rcc.stem}-{name.rsplit('.', 1)[0]}".lower()).strip("-")
            rows.append({"name": f"gcompris-{stem}", "kind": "photo", "registry": GCOMPRIS[0], "package": GCOMPRIS[1],
                         "version": version, "member": str(rcc).lstrip("/"), "inner": e.path, "sha256": _sha256(data),
                         "size": len(data), "width": width, "height": height, "licence": licence[0],
                         "group": licence[1], "author": credit.get("Copyright", ""),
                         "source": credit.get("Source") or f"GCompris ({GCOMPRIS[1]} {version}), {e.path}"})
    return rows


def comfy_files() -> list[dict]:
    import importlib.metadata

    dist = importlib.metadata.distribution(COMFY[1])
    if dist.version != COMFY[2]:
        raise SystemExit(f"{COMFY[1]} {dist.version} is installed; the manifest lists {COMFY[2]}")
    rows = []
    for f in sorted(dist.files or [], key=str):
        if not str(f).endswith(".webp"):
            continue
        path = Path(str(dist.locate_file(f)))
        with Image.open(path) as im:
            frames, (width, height) = getattr(im, "n_frames", 1), im.size
        sibling = re.fullmatch(r"(.+)-(\d+)", path.stem)
        if frames < 2 or (sibling and sibling.group(2) != "1" and (path.parent / f"{sibling.group(1)}-1.webp").exists()):
            continue  # a still, or a second clip of a template: its -1 shows the same scene (an input and its edit)
        data = path.read_bytes()
        stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
        rows.append({"name": f"comfyui-{stem}", "kind": "clip", "registry": COMFY[0], "package": COMFY[1],
                     "version": COMFY[2], "member": str(f), "inner": "", "sha256": _sha256(data), "size": len(data),
                     "width": width, "height": height, "frames": frames, "licence": "MIT", "group": "permissive",
                     "author": "Comfy Org (comfyui-workflow-templates-media-video)",
                     "source": f"https://pypi.org/project/{COMFY[1]}/{COMFY[2]}/"})
    return rows


def plasma_files(version: str) -> list[dict]:
    rows = []
    for name in PLASMA_PHOTOS:
        folder = Path("/usr/share/wallpapers") / name
        meta = json.loads((folder / "metadata.json").read_text())["KPlugin"]
        licence = {"LGPLv3": "LGPL-3.0", "CC-BY-SA-4.0": "CC-BY-SA-4.0"}[meta["License"]]
        path = max((folder / "contents" / "images").iterdir(), key=lambda p: p.stat().st_size)
        data = path.read_bytes()
        with Image.open(path) as im:
            width, height = im.size
        rows.append({"name": f"plasma-{name.lower().replace('_', '-')}", "kind": "photo", "registry": PLASMA[0],
                     "package": PLASMA[1], "version": version, "member": str(path).lstrip("/"), "inner": "",
                     "sha256": _sha256(data), "size": len(data), "width": width, "height": height,
                     "licence": licence, "group": "copyleft",
                     "author": ", ".join(a.get("Name", "") for a in meta.get("Authors", [])),
                     "source": f"Debian {PLASMA[1]} {version}, /{path}"})
    return rows


def main() -> None:
    files = gcompris_files(_apt_version(GCOMPRIS[1])) + comfy_files() + plasma_files(_apt_version(PLASMA[1]))
    names = [f["name"] for f in files]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SystemExit(f"duplicate names: {dupes}")
    manifest = {"version": 1, "files": files}
    with atomic_open(OUT, "w") as fh:
        json.dump(manifest, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    by = {}
    for f in files:
        key = (f["package"], f["group"])
        by[key] = by.get(key, 0) + 1
    print(f"{OUT}: {len(files)} files", by)


if __name__ == "__main__":
    main()
