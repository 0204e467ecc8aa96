"""The console's pages, one module per area; each has `ROUTES`, a list of Starlette routes."""
