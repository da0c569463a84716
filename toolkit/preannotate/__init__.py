"""The pre-annotation stage: suggestions waiting for annotators, and the model in the loop.

Takes in: ``annotations/articles/``, ``annotations/gold.parquet`` (to learn from and to
judge by), ``schemas/scheme.json`` and ``schemas/patterns.jsonl``. Writes:
``annotations/predictions/<model_version>.jsonl`` (one Label Studio prediction per article,
which ``toolkit push`` attaches to the tasks), trained pipelines under ``models/``, and
evaluation reports under ``annotations/evaluation/``.

- ``suggestions``: what every source returns (spans and values with scores and the name of
  what made them), merging sources, and the Label Studio prediction line;
- ``splits``: the gold records with their text and their deterministic release split;
- ``numbers``: counts of killed, injured and hostages from number phrases;
- ``events``: events for an events field, one per sentence naming an attack (a lexicon of
  attack words and their Global Terrorism Database types), with the sentence's counts and
  time / place arguments;
- ``rules``: patterns and gazetteers (``schemas/patterns.jsonl``), every occurrence of strings
  the gold labels, dates, counts and events;
- ``training``: ``toolkit train``, a spaCy pipeline from a blank language trained on the train
  split, its figures on validation, the learning curve;
- ``sources``: the trained model, an installed spaCy pipeline or a ``module:function`` as
  sources of suggestions, with a label map onto the scheme;
- ``curve``: the learning curve's report and plot, and a model's headline figures;
- ``run``: ``toolkit preannotate``, the sources over every article, written atomically;
- ``evaluate``: ``toolkit evaluate``, predictions against gold with bootstrap intervals.
"""
