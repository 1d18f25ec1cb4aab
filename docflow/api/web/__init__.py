"""The web app: one HTML page and its scripts and styles, shipped inside the package.

Plain ES modules and CSS, nothing to build: the files under static/ are what browsers get.
The page itself holds no data (every call goes to /api with the user's credentials), so it
and its assets are served to anyone; an API answer of 401 shows the login form.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
         ".html": "text/html", ".ico": "image/x-icon", ".png": "image/png"}
# The page may only load what this server sends: no CDN, no inline script.
CSP = ("default-src 'self'; img-src 'self' data: blob:; frame-src 'self'; object-src 'self'; "
       "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'self'")

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP})


@router.get("/assets/{path:path}")
def asset(path: str) -> FileResponse:
    file = (STATIC / path).resolve()
    if not file.is_relative_to(STATIC.resolve()) or not file.is_file() \
            or file.suffix not in TYPES:
        raise HTTPException(404, "No such asset.")
    # no-cache: the browser revalidates (ETag), so an upgrade is seen without a build step.
    return FileResponse(file, media_type=TYPES[file.suffix], headers={"Cache-Control": "no-cache"})
