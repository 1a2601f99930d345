"""Evaluation of copy detection: ground-truth readers, metrics (mAP, µAP, VCSL segment P/R/F), reports.

Imports only numpy; matplotlib is loaded when a PR-curve plot is drawn.
"""
from .groundtruth import (
    FIVR_TASK_LABELS,
    GroundTruth,
    Segment,
    read_candidate_pairs,
    read_fivr_annotation,
    read_id_list,
    read_query_attributes,
    read_vcsl_labels,
    read_vcsl_pair_file,
    read_vcsl_predictions,
    read_vcsl_query_sets,
    read_vsc_csv,
    read_vsc_predictions,
    write_candidate_pairs,
    write_vsc_csv,
)
from .metrics import (
    MicroAP,
    PairPR,
    PRCurve,
    RecallAtPrecision,
    SegmentPRF,
    average_precision,
    f_score,
    flatten_scores,
    group_queries,
    mean_average_precision,
    micro_average_precision,
    pair_precision_recall,
    per_group,
    per_query_average_precision,
    precision_recall_curve,
    recall_at_precision,
    restrict_predictions,
    scores_from_pairs,
    segment_macro_precision_recall,
    segment_precision_recall_f,
)
from .report import (
    MethodResult,
    evaluate_method,
    markdown_report,
    plot_pr_curves,
    results_to_dict,
    write_json,
    write_markdown,
    write_report,
)

__all__ = [
    "FIVR_TASK_LABELS", "GroundTruth", "Segment",
    "read_candidate_pairs", "read_fivr_annotation", "read_id_list", "read_query_attributes",
    "read_vcsl_labels", "read_vcsl_pair_file", "read_vcsl_predictions", "read_vcsl_query_sets",
    "read_vsc_csv", "read_vsc_predictions", "write_candidate_pairs", "write_vsc_csv",
    "MicroAP", "PairPR", "PRCurve", "RecallAtPrecision", "SegmentPRF",
    "average_precision", "f_score", "flatten_scores", "group_queries", "mean_average_precision",
    "micro_average_precision", "pair_precision_recall", "per_group", "per_query_average_precision",
    "precision_recall_curve", "recall_at_precision", "restrict_predictions", "scores_from_pairs",
    "segment_macro_precision_recall", "segment_precision_recall_f",
    "MethodResult", "evaluate_method", "markdown_report", "plot_pr_curves", "results_to_dict",
    "write_json", "write_markdown", "write_report",
]
