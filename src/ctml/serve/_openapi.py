"""The OpenAPI 3 document of a server, generated from each app's current model signature."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctml.serve._server import ModelServer

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
            "required": ["status", "message"],
        }
    },
    "required": ["error"],
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document(server: ModelServer) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _json({"type": "object"})}}},
        "/readyz": {
            "get": {
                "summary": "Readiness: 200 once every app's models are loaded",
                "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "Loading")},
            }
        },
    }
    protected: dict[str, Any] = {"security": [{"bearer": []}]}
    predict_security: dict[str, Any] = protected if server.config.require_token_for_predict else {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    for name, slot in server.slots.items():
        routes = slot.routes
        if routes is None:
            row: dict[str, Any] = {"type": "object", "description": "The model is still loading."}
        else:
            sig = routes.champion.loaded.signature
            row = {
                "type": "object",
                "properties": {f: {"type": "number"} for f in sig.feature_names},
                "required": list(sig.feature_names),
                "additionalProperties": False,
            }
        schemas[f"{name}.Row"] = row
        ref = {"$ref": f"#/components/schemas/{name}.Row"}
        batch = {
            "type": "object",
            "properties": {
                "rows": {"type": "array", "items": ref, "minItems": 1, "maxItems": server.config.max_batch_rows}
            },
            "required": ["rows"],
            "additionalProperties": False,
        }
        answer = {
            "type": "object",
            "properties": {
                "ids": {"type": "array", "items": {"type": "string"}},
                "predictions": {"type": "array"},
                "probabilities": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                "classes": {"type": "array"},
                "model": {"type": "string"},
                "version": {"type": "integer"},
                "route": {"type": "string", "enum": ["champion", "canary"]},
            },
            "required": ["ids", "predictions", "model", "version", "route"],
        }
        label = {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,6}$"},
                "label": {"type": ["string", "number", "boolean"]},
                "at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "label"],
            "additionalProperties": False,
        }
        base = f"/v1/apps/{name}"
        paths[f"{base}/predict"] = {
            "post": {
                "summary": f"Predict with {slot.spec.model}@{slot.spec.alias}",
                "operationId": f"predict_{name}",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [ref, batch]}}}},
                "responses": {"200": _json(answer), **_errors(400, 401, 403, 413, 422, 503)},
                **predict_security,
            }
        }
        paths[f"{base}/feedback"] = {
            "post": {
                "summary": "Labels for earlier predictions, by id; late and out of order is fine",
                "operationId": f"feedback_{name}",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    label,
                                    {
                                        "type": "object",
                                        "properties": {"labels": {"type": "array", "items": label, "minItems": 1}},
                                        "required": ["labels"],
                                        "additionalProperties": False,
                                    },
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json({"type": "object"}),
                    "404": _json({"type": "object"}, "None of the ids are logged predictions of this app"),
                    **_errors(400, 401, 403, 413, 422),
                },
                **predict_security,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "ctml model server", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
