"""How benchmark clips are encoded: a CRF or a bit rate per pixel, always bit-exact across runs."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from vidsim.decode import VideoEncoding

__all__ = ["Encoder", "DEFAULT_ENCODER", "REFERENCE_ENCODER"]


@dataclass(frozen=True)
class Encoder:
    """How a transformed clip is encoded: CRF or bits per pixel (bit rate = bpp * w * h * fps)."""

    codec: str = "libx264"
    crf: int | None = 23
    bpp: float | None = None
    preset: str = "veryfast"
    max_bpp: float | None = 0.12  # CRF mode: VBV cap (keeps noisy clips small)

    def encoding(self, fps: Fraction, width: int, height: int) -> VideoEncoding:
        """The writer settings for a (width x height, fps) stream; one encoder thread: bit-exact."""
        opts: dict[str, str] = {}
        bit_rate = max(20_000, int(self.bpp * width * height * float(fps))) if self.bpp is not None else None
        if self.codec == "libx264":
            opts["preset"] = self.preset
            # mbtree off: with it, this x264 gives different bytes from run to run on small frames
            x264 = ["mbtree=0"]
            if self.bpp is None and self.crf is not None:
                opts["crf"] = str(self.crf)
                if self.max_bpp:
                    kbps = max(50, int(self.max_bpp * width * height * float(fps) / 1000))
                    x264.append(f"vbv-maxrate={kbps}:vbv-bufsize={2 * kbps}")
            opts["x264-params"] = ":".join(x264)
        elif self.codec == "libvpx-vp9":
            opts.update({"deadline": "realtime", "cpu-used": "8", "row-mt": "0", "lag-in-frames": "0"})
            if self.bpp is None:
                opts.update({"crf": str(self.crf or 32), "b": "0"})
        return VideoEncoding(codec=self.codec, options=opts, pix_fmt="yuv420p", bit_rate=bit_rate, threads=1)

    def describe(self) -> dict[str, Any]:
        return {"codec": self.codec, **({"bpp": self.bpp} if self.bpp is not None else {"crf": self.crf})}


DEFAULT_ENCODER = Encoder()
REFERENCE_ENCODER = Encoder(crf=21)
