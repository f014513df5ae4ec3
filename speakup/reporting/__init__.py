"""Counting what the national return and the board report show: quarters (the one period type), suppression
(the one rule that hides small numbers), national_return, board, stats_tokens. Reads plain counted fields only."""
