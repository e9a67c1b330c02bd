"""The ``setsplat`` command: Click groups, one module per area, no logic beyond parsing
and printing; everything it does is a library call.

Its public face is the console script, ``setsplat.cli.main:main``, and
``setsplat.cli.main.run(argv)``, which returns the exit code (for tests and scripts).
Nothing is imported here, so ``python -m setsplat.cli.main`` loads that module once.
"""
