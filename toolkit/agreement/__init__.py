"""The agreement stage: how far annotators agree, and one gold answer per article.

Takes in: ``annotations/annotations.parquet`` (validated records), the articles' texts, the
scheme and, when pulled, ``annotations/predictions.parquet`` (the suggestions shown). Writes:
``annotations/agreement.json`` (every figure), ``annotations/agreement.md``,
``annotations/agreement-*.png`` and ``annotations/gold.parquet`` (``toolkit agree``).
Annotations last saved by an account other than their author's (``edited_by_other``) are
nobody's independent vote: both the figures and gold leave them out and list them.

- ``metrics``: observed agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha, span
  F1, trigger, event, argument and relation F1, with bootstrap intervals, per field, label,
  role, attribute, annotator and pair of annotators;
- ``events``: the pairings events, relations and attributed spans need before they can be
  compared or voted on: events matched and clustered by trigger overlap, arguments by role
  and overlap, relations exactly and by overlap, spans marked identically;
- ``gold``: the gold policy (``[gold]`` in toolkit.toml) and the gold records it decides;
- ``suggestions``: the answers made with and without a suggestion (pre-annotation) compared:
  agreement and gold accuracy per group, and how often each annotator accepted one unchanged;
- ``report``: ``toolkit agree``: the figures, the Markdown report, the plots and gold.parquet.
"""

from .events import cluster_events, compare_events, compare_relations, match_events
from .gold import GoldPolicy, compute_gold, gold_arrow_schema, gold_for_article, gold_table
from .metrics import UndefinedMetric, compute_agreement
from .report import AgreeReport, agree, headline_rows, render_markdown
from .suggestions import (has_suggestion, read_predictions, shown_suggestions, suggestion_effect, suggestions_markdown,
                          suggestions_summary)

__all__ = ["cluster_events", "compare_events", "compare_relations", "match_events", "GoldPolicy", "compute_gold", "gold_arrow_schema", "gold_for_article", "gold_table",
           "UndefinedMetric", "compute_agreement", "AgreeReport", "agree", "headline_rows", "render_markdown",
           "has_suggestion", "read_predictions", "shown_suggestions", "suggestion_effect", "suggestions_markdown",
           "suggestions_summary"]
