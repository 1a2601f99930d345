"""Similarity between videos: Chamfer f2f/v2v, the ViSiL comparator head."""
from vidsim.similarity.attention import Attention
from vidsim.similarity.chamfer import chamfer_score, f2f_similarity, naive_f2f_similarity
from vidsim.similarity.comparator import VideoComparator
from vidsim.similarity.head import ViSiLHead

__all__ = ["Attention", "ViSiLHead", "VideoComparator", "chamfer_score", "f2f_similarity", "naive_f2f_similarity"]
