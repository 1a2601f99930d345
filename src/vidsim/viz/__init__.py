"""Plots (matplotlib, Agg backend): similarity heatmaps with mm:ss axes."""
from vidsim.viz.heatmap import heatmap_png, save_heatmap, save_matrix_heatmap

__all__ = ["heatmap_png", "save_heatmap", "save_matrix_heatmap"]
