"""Plots (matplotlib, Agg backend): similarity heatmaps with mm:ss axes."""
from vidsim.viz.heatmap import format_time, save_heatmap, save_matrix_heatmap

__all__ = ["format_time", "save_heatmap", "save_matrix_heatmap"]
