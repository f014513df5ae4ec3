"""The reporter's JSON API, /api/v1 (routes), and its OpenAPI document (openapi)."""
