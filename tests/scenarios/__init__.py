"""The repository's bundled scenarios (scenarios/) run end to end against real Flask,
gunicorn and uvicorn servers, checked against facts measured by hand."""
