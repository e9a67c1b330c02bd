"""The asset library: versioned USD assets of splat scenes, indexed in SQLite (or in
PostgreSQL for a library many hosts share).

``publish(source, PublishOptions(name=...))`` adds a version, ``load("Name@3")`` reads
its splats back, ``verify()`` checks hashes and USD composition, ``deprecate`` and
``remove`` retire versions, ``migrate()`` copies a library's SQLite catalog into
PostgreSQL.
"""

from .catalogs import open_catalog
from .library import Library, Ref, parse_ref
from .migrate import migrate
from .publish import PublishOptions, publish
from .reading import load, resolve
from .retire import deprecate, remove
from .verify import verify

__all__ = ["Library", "PublishOptions", "Ref", "deprecate", "load", "migrate", "open_catalog",
           "parse_ref", "publish", "remove", "resolve", "verify"]
