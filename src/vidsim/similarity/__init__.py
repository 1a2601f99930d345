"""Similarity between videos: Chamfer f2f/v2v, the ViSiL comparator head, copied-segment alignment."""
from vidsim.similarity.align import available_aligners, localise, make_aligner
from vidsim.similarity.attention import Attention
from vidsim.similarity.blocked import QueryColumns, blocked_f2f, query_columns
from vidsim.similarity.chamfer import chamfer_score, f2f_similarity, naive_f2f_similarity
from vidsim.similarity.comparator import VideoComparator
from vidsim.similarity.head import ViSiLHead
from vidsim.similarity.scoring import MIN_FRAMES, VideoScores, repeat_to, video_scores
from vidsim.similarity.segments import Segment

__all__ = [
    "MIN_FRAMES", "Attention", "QueryColumns", "Segment", "ViSiLHead", "VideoComparator", "VideoScores",
    "available_aligners", "blocked_f2f", "chamfer_score", "f2f_similarity", "localise", "make_aligner",
    "naive_f2f_similarity", "query_columns", "repeat_to", "video_scores",
]
