"""The sandbox's records over HTTP: pages of a collection, one record, and their links.

Limit and offset (or an opaque cursor), filter, sort and fields, the X-Total-Count header and
the Link header in the style a profile asks for.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from urllib.parse import quote

from werkzeug.wrappers import Request, Response

from oneroster.normalize import DATA_TYPE, SINGULAR
from oneroster.sandbox.answers import JSON_TYPE, imsx
from oneroster.sandbox.district import District
from oneroster.sandbox.profiles import Profile
from oneroster.sandbox.query import QueryError, parse_fields, parse_filter, sort_key

CURSOR_WIDTH = 12  # digits of an offset inside an opaque cursor
DEFAULT_LIMIT = 100


def collection_page(request: Request, district: District, version: str, prefix: str,
                    name: str, data_type: str, profile: Profile) -> Response:
    """Answer a collection request: one page, filtered, sorted and linked as the profile pages."""
    args = request.args
    limit = _number(args.get("limit"), DEFAULT_LIMIT, 1, "limit")
    offset = _number(args.get("offset"), 0, 0, "offset")
    if profile.link == "cursor" and args.get("cursor"):
        offset, limit = _cursor(args["cursor"])
    if profile.clamp:
        limit = min(limit, profile.clamp)
    if profile.ignore_offset:
        offset = 0
    if args.get("orderBy", "asc") not in ("asc", "desc"):
        raise QueryError("invaliddata", "orderBy must be asc or desc")
    blobs = district.collection(data_type).served(version, href_base(request, prefix, profile))
    subset = district.subsets.get(name)
    positions = subset[1] if subset else None
    key = DATA_TYPE[name]
    if not args.get("filter") and not args.get("fields") \
            and args.get("sort") in (None, "", "sourcedId") and args.get("orderBy") != "desc":
        if positions is None:
            total, chosen = len(blobs), blobs[offset:offset + limit]
        else:
            total, chosen = len(positions), [blobs[i] for i in positions[offset:offset + limit]]
        body = b"".join((b'{"', key.encode(), b'":[', b",".join(chosen), b"]}"))  # one copy
    else:
        total, page = _queried(args, blobs, positions, data_type, offset, limit)
        body = json.dumps({key: page}, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {}
    if profile.total_header:
        headers["X-Total-Count"] = str(profile.total_value(total))
    if profile.link == "cursor":
        if offset + limit < total:
            cursor = _opaque(offset + limit, limit)
            headers["Link"] = f'<{request.base_url}?cursor={cursor}>; rel="next"'
    elif profile.link != "none":
        headers["Link"] = _links(request, offset, limit, total, profile.link,
                                 relative=profile.relative)
    return Response(body, 200, headers, content_type=JSON_TYPE)


def _queried(args: Mapping[str, str], blobs: list[bytes], positions: list[int] | None,
             data_type: str, offset: int, limit: int) -> tuple[int, list[dict]]:
    """Return how many records match a filter, and one page of them, sorted, with fields."""
    order, sort, fields = args.get("orderBy", "asc"), args.get("sort"), args.get("fields")
    selection = range(len(blobs)) if positions is None else positions
    records = [json.loads(blobs[i]) for i in selection]
    if args.get("filter"):
        test = parse_filter(args["filter"], data_type)
        records = [r for r in records if test(r)]
    if sort:
        records.sort(key=sort_key(sort, data_type), reverse=order == "desc")
    elif order == "desc":
        records.reverse()
    page = records[offset:offset + limit]
    if fields:
        chosen_fields = parse_fields(fields, data_type)
        page = [{f: r[f] for f in chosen_fields if f in r} for r in page]
    return len(records), page


def href_base(request: Request, prefix: str, profile: Profile) -> bytes:
    """Return what hrefs start with: the Base URL, or only its path (relative hrefs)."""
    if profile.relative:
        return (request.script_root + prefix).encode()
    return (request.root_url.rstrip("/") + prefix).encode()


def single_record(request: Request, district: District, version: str, prefix: str, name: str,
                  data_type: str, sourced_id: str, profile: Profile) -> Response:
    """Answer a request for one record by sourcedId."""
    collection = district.collection(data_type)
    position = collection.position(sourced_id)
    subset = district.subsets.get(name)
    if position is None or (subset is not None and position not in subset[1]):
        return imsx(404, "unknownobject", f"There is no {SINGULAR[data_type]} {sourced_id!r}")
    base = href_base(request, prefix, profile)
    blob = collection.served(version, base)[position]
    key = SINGULAR[data_type].encode()
    fields = request.args.get("fields")
    if fields:
        record = json.loads(blob)
        chosen = parse_fields(fields, data_type)
        blob = json.dumps({f: record[f] for f in chosen if f in record},
                          ensure_ascii=False, separators=(",", ":")).encode()
    return Response(b'{"' + key + b'":' + blob + b"}", 200, content_type=JSON_TYPE)


def _number(value: str | None, default: int, minimum: int, name: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise QueryError("invaliddata", f"{name} must be a whole number") from None
    if number < minimum:
        raise QueryError("invaliddata", f"{name} must be at least {minimum}")
    return number


def _opaque(offset: int, limit: int) -> str:
    """Return a cursor that does not show the offset it stands for."""
    raw = f"{offset:0{CURSOR_WIDTH}d}{limit:0{CURSOR_WIDTH}d}".encode()
    return base64.urlsafe_b64encode(bytes(b ^ 0x5A for b in raw)).decode().rstrip("=")


def _cursor(value: str) -> tuple[int, int]:
    """Return the offset and limit a cursor stands for."""
    try:
        raw = bytes(b ^ 0x5A for b in base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        return int(raw[:CURSOR_WIDTH]), max(1, int(raw[CURSOR_WIDTH:]))
    except (ValueError, binascii.Error):
        raise QueryError("invaliddata", "cursor is not one this server gave out") from None


def _links(request: Request, offset: int, limit: int, total: int, style: str, *,
           relative: bool = False) -> str:
    """Return the Link header: first, prev, next and last pages, in the profile's style."""
    # The query is encoded once (as urlencode would); only the offset differs between links.
    query = {**request.args.to_dict(flat=True), "limit": limit, "offset": 0}
    names = list(query)
    cut = names.index("offset")

    def pair(name: str) -> str:
        return f"{quote(str(name), safe='')}={quote(str(query[name]), safe='')}"

    before = "".join(pair(name) + "&" for name in names[:cut])
    after = "".join("&" + pair(name) for name in names[cut + 1:])
    path = request.script_root + request.path if relative else request.base_url
    prefix = f"{path}?{before}offset="

    rels = [("first", 0)]
    if offset > 0:
        rels.append(("prev", max(0, offset - limit)))
    if offset + limit < total:
        rels.append(("next", offset + limit))
    rels.append(("last", ((total - 1) // limit) * limit if total else 0))
    if style == "bare":
        return ", ".join(f'{prefix}{o}{after}; rel="{rel}"' for rel, o in rels)
    return ", ".join(f'<{prefix}{o}{after}>; rel="{rel}"' for rel, o in rels)
