"""The asset library: versioned USD assets of splat scenes, indexed in SQLite.

``publish(source, PublishOptions(name=...))`` adds a version, ``load("Name@3")`` reads
its splats back, ``verify()`` checks hashes and USD composition.
"""

from .library import Library, Ref, parse_ref
from .publish import PublishOptions, publish
from .reading import load, resolve
from .verify import verify

__all__ = ["Library", "PublishOptions", "Ref", "load", "parse_ref", "publish", "resolve",
           "verify"]
