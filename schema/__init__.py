"""The GraphQL schema: thin Strawberry types over the resolvers, and what a request may cost."""

from imagehost.schema.build import build_schema
from imagehost.schema.upload_count import request_images, upload_fields

__all__ = ["build_schema", "request_images", "upload_fields"]
