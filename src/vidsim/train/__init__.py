"""Training the ViSiL head (attention + video comparator) with the triplet loss and the
similarity regulariser, on cached features of augmented clips or of labelled videos.

Modules, one job each: `recipe` (the numbers), `augment` (clips made with the benchmark's
transform families), `data` (features extracted once through the cache; the in-memory bank),
`triplets` (triplet sampling from frame labels), `csvdata` (labelled CSV files), `scoring`
(the head's batched training path), `loss`, `mining`, `trainer` (loop, checkpoints, resume),
`export` (the head file and its metadata), `run` (all of it, as `vidsim train` runs it).
"""
from vidsim.train.recipe import DEFAULT, QUICK, RECIPES, TrainRecipe
from vidsim.train.run import TrainJob, TrainResult, run_training

__all__ = ["DEFAULT", "QUICK", "RECIPES", "TrainJob", "TrainRecipe", "TrainResult", "run_training"]
