"""Supervision reports (统计分析与年度评估): SLA health, the annual evaluation, charts, exports, reassignment.

Everything here reads through a caller's session (the caller owns the transaction) and aggregates
in SQL; only the per-group working-day arithmetic runs in Python (the calendar is not in the database).
"""
