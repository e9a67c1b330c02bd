"""The asset library: versioned USD assets of splat scenes, indexed in SQLite.

``publish(source, PublishOptions(name=...))`` adds a version, ``load("Name@3")`` reads
its splats back, ``verify()`` checks hashes and USD composition, ``deprecate`` and
``remove`` retire versions.
"""

from .library import Library, Ref, parse_ref
from .publish import PublishOptions, publish
from .reading import load, resolve
from .retire import deprecate, remove
from .verify import verify

__all__ = ["Library", "PublishOptions", "Ref", "deprecate", "load", "parse_ref", "publish",
           "remove", "resolve", "verify"]
