"""The public API as a product: the OpenAPI document of /api/v1, its conventions and its
compatibility check (`manage.py openapi check|snapshot`, docs/api.md)."""
