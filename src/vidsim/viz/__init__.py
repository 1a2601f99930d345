"""Plots (matplotlib, Agg backend): similarity heatmaps with mm:ss axes."""
from vidsim.viz.heatmap import save_heatmap, save_matrix_heatmap

__all__ = ["save_heatmap", "save_matrix_heatmap"]
