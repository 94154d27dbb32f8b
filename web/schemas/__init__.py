"""marshmallow schemas: the same classes validate requests, shape responses and generate OpenAPI."""
