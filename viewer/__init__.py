"""distill stage: the transcript viewer (a static site of problems, transcripts and levels)."""
