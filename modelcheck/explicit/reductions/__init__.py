"""The two reductions of the explicit search: symmetry and partial-order reduction.

:mod:`.hooks` builds what the search calls (``canonical``, ``ample``);
:mod:`.symmetry` and :mod:`.por` hold each reduction and the argument why it keeps verdicts.
"""
