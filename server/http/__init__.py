"""The HTTP edges of the service: everything between a request and the schema."""
