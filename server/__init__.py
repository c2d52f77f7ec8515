"""Imagehost: a small self-hosted image host with a typed GraphQL API.

This package (the `server/` folder) is the composition root: settings, logging, the app
factory, the HTTP edges and the `imagehost` command. `schema`, `resolvers` and `storage`
install as its sub-packages but never import it.
"""

__version__ = "0.1.0"
