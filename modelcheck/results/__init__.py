"""results/: the verdicts of the default matrix, the report people read, traces and pictures, and the gate.

Start at :mod:`.tree` (what ``modelcheck run`` writes and how it swaps it in), then
:mod:`.store` (the verdicts.json format) and :mod:`.gate` (how two verdict files
compare). :mod:`.report`, :mod:`.traces`, :mod:`.svg` and :mod:`.graphs` each render
one kind of file; :mod:`.cli` holds the two commands, ``run`` and ``gate``.
"""
