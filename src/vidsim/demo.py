"""`vidsim demo`: make a clip, a transformed copy and an unrelated clip, compare, plot.

Runs offline on a fresh install: the clips are generated procedurally (vidsim.synth),
the default backbone's weights come from a package.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vidsim.model import Comparison, ViSiL, compare_videos
from vidsim.store import FeatureCache


@dataclass(frozen=True)
class DemoResult:
    original: Path
    copy: Path
    unrelated: Path
    copy_score: Comparison
    unrelated_score: Comparison
    heatmap: Path

    def summary(self) -> str:
        ranked = self.copy_score.similarity > self.unrelated_score.similarity
        verdict = "the copy ranks above the unrelated clip" if ranked else "UNEXPECTED: the unrelated clip scored higher"
        return "\n".join(
            [
                f"mode: {self.copy_score.mode}",
                f"{self.original.name} vs {self.copy.name} (cropped to 80%, half size, re-encoded): "
                f"{self.copy_score.similarity:.4f}",
                f"{self.original.name} vs {self.unrelated.name} (another clip):                        "
                f"{self.unrelated_score.similarity:.4f}",
                verdict,
                f"heatmap of the copy: {self.heatmap}",
            ]
        )


def run_demo(model: ViSiL, out_dir: Path, cache: FeatureCache | None = None, progress: bool = False) -> DemoResult:
    from vidsim.synth import make_clip, make_copy
    from vidsim.viz import save_heatmap

    out_dir.mkdir(parents=True, exist_ok=True)
    original, copy, unrelated = out_dir / "original.mp4", out_dir / "copy.mp4", out_dir / "unrelated.mp4"
    make_clip(original, seconds=30.0, size=(480, 270), seed=1)
    make_copy(original, copy, crop=0.8, scale=0.5, crf=32)
    make_clip(unrelated, seconds=30.0, size=(480, 270), seed=2)
    features = {p: model.extract_video(p, cache=cache) for p in (original, copy, unrelated)}
    copy_score = compare_videos(model, features[copy], features[original])
    unrelated_score = compare_videos(model, features[unrelated], features[original])
    heatmap = out_dir / "heatmap.png"
    save_heatmap(
        heatmap, copy_score.f2f, copy_score.query_timestamps, copy_score.target_timestamps,
        title=f"copy vs original: {copy_score.similarity:.3f} ({copy_score.mode})",
        query_label="copy", target_label="original", comparator=copy_score.visil_output,
    )
    return DemoResult(original, copy, unrelated, copy_score, unrelated_score, heatmap)
