"""The compiled backend: the spec's code run symbolically once, then as generated Python over flat states.

:mod:`.expander` is the backend; :mod:`.python_source` prints z3 terms as Python;
:mod:`.cache` keeps the generated code on disk; :mod:`.flat_symmetry` maps flat states
to their symmetry class's representative.
"""
