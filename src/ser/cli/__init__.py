"""The ``ser`` command line. One module per command group; each defines ``register(subparsers)``.

Command modules import their heavy dependencies inside the functions that run a command, so
that ``ser --help`` and ``ser predict`` start fast.
"""
