"""Benchmark extraction end to end (360p, 720p, 1080p), resnet50 against the official recipe, and peak RSS.

    python benchmarks/extract.py                   # full run (20-30 min on 2 quiet cores); writes
                                                   # benchmarks/results/extract.{md,json}
    python benchmarks/extract.py --quick           # smoke run (5-10 min on 2 quiet cores); prints only
    python benchmarks/extract.py --only e2e,rss --no-write
    python benchmarks/extract.py --list-rows       # the rows (rows.py) and their config overrides

Sections (`--only`):
  e2e     `FeatureExtractor.extract_video` (decode + features + whitening) on the corpus clip `franck`
          (200 s, 360x288) per row: the old default (torch fp32) as the reference, the default
          (`FeatureConfig()`), each installed runtime and precision; with the time decoding takes alone.
  hires   the same on 720p and 1080p clips made by upscaling a corpus clip with x264 (media.py).
  resnet  resnet50 paths on pre-decoded frames against the official ViSiL recipe (MKLab-ITI/visil,
          `evaluation.py` + `model/visil.py`) re-implemented in extractors.py: frames `.float()`, /255,
          ImageNet mean/std, NHWC -> NCHW, torchvision-style ResNet-50 run module by module with
          `.contiguous()` after each, max-pool kernels 28/14/6/3 with stride ceil(k/2), L2 per layer,
          concatenation, L2; fp32, NCHW, batch 128. Both sides run vidsim's ResNet-50 module (same key
          names and layers as torchvision's) with the deterministic weights `seed:0`; then the
          region-vector cosine and the score drift after whitening of each row against it.
  rss     peak RSS of `extract_video` on the 200-s clip and on it looped to 30 min and 2 h.
  similarity (only when asked for) ViSiLHead pairs/s.
The headline also quotes the search numbers of issue 11 item 4 from benchmarks/results/search.json.

Every measurement runs in its own worker process (this script with --worker), so the peak RSS
reported for it (ru_maxrss) is its own. Workers of one table are started one after the other; each
builds its model and does one untimed warm-up run, then the table runs in interleaved rounds
(worker 1, worker 2, ..., then again), one timed run per worker per round. Ratios are taken between
runs of the same round, so a change in the load from other processes affects both sides alike.
Each worker uses torch.set_num_threads(--threads), default: the cores this process may run on.
"""
