"""What each query and mutation does, in terms of storage records; no GraphQL types here."""
