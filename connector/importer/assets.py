"""Pure: the assets of a WAS report's findings, and how an import asset merges into the store.

A report names its web applications in its APPENDIX (and, nested, in RESULTS/WEB_APPLICATION).
Each becomes the API's asset when the API sync stores that web application (same Qualys web app
id, else the same URL, normalised); otherwise an import asset keyed "url:" + the normalised URL.
`--asset-name`/`--asset-url` name the one web application of a report that lacks them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from connector.errors import ImportFileError
from connector.importer.records import ReportAssets
from connector.importer.report import WebApp
from connector.importer.urls import BadUrlError, bounded_key, normalise_url
from connector.models import SOURCE_API, SOURCE_IMPORT, Asset


def resolve_assets(
    path: Path,
    webapps: Sequence[WebApp],
    *,
    asset_name: str | None,
    asset_url: str | None,
    api_urls: Mapping[str, str],
    api_keys: set[str],
    report_date: datetime | None,
) -> ReportAssets:
    """row.webapp (a results web app's ID or NAME; None: the report's only one) -> asset."""
    if asset_url:
        if len(webapps) > 1:
            raise ImportFileError(
                f"{path}: the report covers {len(webapps)} web applications: --asset-url "
                "cannot name all of them; import it without --asset-name/--asset-url"
            )
        only = webapps[0] if webapps else WebApp(None, None, None)
        webapps = [WebApp(only.id, asset_name or only.name, asset_url)]
    elif asset_name and len(webapps) == 1:
        webapps = [dataclasses.replace(webapps[0], name=asset_name)]
    if not webapps or not any(w.url for w in webapps):
        raise ImportFileError(
            f"{path}: the report names no web application URL (no 'Web Application Name, URL' "
            "table or WEBAPP/URL in its APPENDIX): give it with --asset-name NAME --asset-url URL"
        )
    resolved: dict[str | None, tuple[Asset, bool]] = {}
    normalised_api = {}
    for url, key in api_urls.items():
        try:
            normalised_api[normalise_url(url)] = key
        except BadUrlError:
            continue  # an API web app with an unreadable URL simply matches no report
    for app in webapps:
        found = _asset(path, app, normalised_api, api_keys, report_date)
        for name in (app.id, app.name, *app.aliases):
            if name:
                resolved.setdefault(name, found)
    if len(webapps) == 1:
        resolved[None] = next(iter(resolved.values()))
    return resolved


def _asset(
    path: Path,
    app: WebApp,
    api_urls: Mapping[str, str],
    api_keys: set[str],
    report_date: datetime | None,
) -> tuple[Asset, bool]:
    if app.id and app.id in api_keys:
        return Asset(app.id, app.name, app.url, None, report_date, source=SOURCE_API), True
    if not app.url:
        raise ImportFileError(
            f"{path}: web application {app.name or app.id!r} has no URL in the report: "
            "export the report again (or import a one-application report with --asset-url)"
        )
    try:
        normalised = normalise_url(app.url)
    except BadUrlError as exc:
        raise ImportFileError(
            f"{path}: the web application's URL: {exc}: fix it in Qualys, or give "
            "--asset-url URL"
        ) from None
    api_key = api_urls.get(normalised)
    if api_key is not None:
        return Asset(api_key, app.name, app.url, None, report_date, source=SOURCE_API), True
    key = bounded_key("url:", normalised)
    return Asset(key, app.name, app.url, None, report_date, source=SOURCE_IMPORT), False


def merge_asset(stored: Asset | None, incoming: Asset) -> Asset:
    """An import asset over what is stored: the newer report's name and URL, the latest
    last_observed, the earliest first_observed."""
    if stored is None:
        return incoming
    newer = incoming.last_observed is not None and (
        stored.last_observed is None or incoming.last_observed >= stored.last_observed
    )
    base = incoming if newer else stored
    return dataclasses.replace(
        base,
        name=base.name or stored.name or incoming.name,
        url=base.url or stored.url or incoming.url,
        first_observed=stored.first_observed or incoming.first_observed,
        last_observed=max(
            (d for d in (stored.last_observed, incoming.last_observed) if d is not None),
            default=None,
        ),
        tags=stored.tags,
        attributes=stored.attributes,
        source=SOURCE_IMPORT,
    )
