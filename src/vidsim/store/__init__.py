"""Features on disk: the file format and the content-addressed feature cache."""
from vidsim.store.cache import FeatureCache, content_hash, default_cache_dir
from vidsim.store.format import FEATURE_SUFFIX, load_features, save_features

__all__ = ["FEATURE_SUFFIX", "FeatureCache", "content_hash", "default_cache_dir", "load_features", "save_features"]
