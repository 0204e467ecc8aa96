"""The web console: server-rendered pages over the store's query layer and the importer.

An edge like the CLI: `app.create_app(console)` builds the Starlette application from a
`state.Console` the caller wires up (engine, config, the connectivity and validation runners).
Pages live in `pages/`, one module per area; security (sessions, CSRF, headers) in its own modules.
"""
