"""``python -m personalization.sentiment``: tag stdin lines, one JSON object per line on stdout.

Each output line is ``{"text", "polarity", "emotion", "score"}``; an empty line gets
neutral/neutral. ``--model DIR`` (default: ``SENTIMENT_MODEL`` or ``models/sentiment``) picks any
Hugging Face text-classification model directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from personalization.sentiment.labels import UnknownLabelError
from personalization.sentiment.tagger import SentimentTagger
from personalization.settings import Settings


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personalization.sentiment",
        description="Tag each stdin line with polarity, emotion and score (JSON lines on stdout).",
    )
    parser.add_argument("--model", default=None, help="model directory (default: SENTIMENT_MODEL or models/sentiment)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    path = args.model or Settings.from_env().sentiment_model
    try:
        tagger = SentimentTagger.load(path, num_threads=args.threads)
    except (FileNotFoundError, UnknownLabelError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stdin = sys.stdin.buffer
    for raw in stdin:
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        result = tagger.tag(text)
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
