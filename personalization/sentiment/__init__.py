"""Sentiment and emotion tagging of member messages (polarity, emotion, confidence).

``SentimentTagger.load(path).tag(text)`` → :class:`Sentiment`; ``python -m personalization.sentiment``
tags stdin lines. Importing this package loads no model and imports neither torch nor transformers.
"""

from personalization.sentiment.labels import EMOTIONS, JOINT_LABELS, POLARITIES, parse_label
from personalization.sentiment.tagger import Sentiment, SentimentTagger, get_tagger

__all__ = ["EMOTIONS", "JOINT_LABELS", "POLARITIES", "Sentiment", "SentimentTagger", "get_tagger", "parse_label"]
