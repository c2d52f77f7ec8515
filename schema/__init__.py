"""The GraphQL schema: thin Strawberry types over the resolvers."""

from imagehost.schema.build import build_schema

__all__ = ["build_schema"]
