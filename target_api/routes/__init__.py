"""The API's endpoints, one module per resource (each module's ``routes`` list)."""

__all__: list[str] = []
