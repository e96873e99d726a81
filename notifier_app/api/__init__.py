"""The JSON API and the stream endpoints, as one FastAPI app mounted into Reflex."""
