"""Benchmark decoding, feature extraction per backbone, similarity and peak memory on a real clip.

    python benchmarks/extract.py             # full run (30-60 min on 2 cores); writes
                                             # benchmarks/results/extract.{md,json}
    python benchmarks/extract.py --quick     # smoke run (a couple of minutes); prints only
    python benchmarks/extract.py --clip other.mp4 --sections decode extract --no-write

The clip is the corpus clip `franck` (200 s, 360x288, fetched and checked by
`vidsim.bench.corpus`) unless --clip names another.

Every measurement runs in its own worker process (this script with --worker), so the peak
RSS reported for it (ru_maxrss) is its own. Workers of one group are started one after the
other; each builds its model and does one untimed warm-up run, then the group runs in
interleaved rounds (worker 1, worker 2, ..., then again), one timed run per worker per round.
Ratios are taken between runs of the same round, so a change in the load from other
processes affects both sides alike. Each worker uses torch.set_num_threads(--threads),
default: the cores this process may run on.

Extraction compares, on the same pre-decoded frames:
  reference  the official ViSiL recipe (MKLab-ITI/visil, `evaluation.py` + `model/visil.py`),
             re-implemented in extractors.py: frames `.float()`, /255, ImageNet mean/std, NHWC -> NCHW,
             torchvision-style ResNet-50 run module by module with `.contiguous()` after each,
             max-pool kernels 28/14/6/3 with stride ceil(k/2), L2 per layer, concatenation, L2;
             fp32, NCHW, batch 128. It runs vidsim's ResNet-50 module (same key names and
             layers as torchvision's) with the deterministic weights `seed:0`.
  vidsim     `FeatureExtractor` with each backbone, precision and batch size.
Neither side applies PCA whitening (no whitening file; it would cost both the same).
"""
