"""Counting what the national return and the board report show: suppression (the one rule that hides small
numbers), national_return, board, stats_tokens; by quarter (speakup/domain/quarters.py, the one period type).
Reads plain counted fields only."""
