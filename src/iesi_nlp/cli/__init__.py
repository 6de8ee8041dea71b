"""The ``iesi-nlp`` command line: thin wrappers over the library's functions."""
