"""HTTP layer: FastAPI app, dependencies, schemas and routes."""
