"""Evaluation: metrics (UA, WA, macro-F1), breakdowns, reports and plots."""
