"""The native backend: the compiled backend's generated Python printed as C, and the compact-store search in C.

:mod:`.driver` builds and drives the library; :mod:`.c_source` prints the generated
Python as C; ``search.c`` is the search loop the C successor function is spliced into.
"""
