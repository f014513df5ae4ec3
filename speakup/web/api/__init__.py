"""The JSON API, /api/v1 (routes): the reporter's side and the statistics a dashboard reads; its OpenAPI document
(openapi, built from schema_parts)."""
