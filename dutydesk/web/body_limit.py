"""Request bodies over the size limit get 413, whether they came with a length or chunked.

Werkzeug enforces ``MAX_CONTENT_LENGTH`` up front when ``Content-Length`` is sent; a chunked
body has no length, so Werkzeug reads it up to the limit and stops there without a word, and
the truncated bytes then fail as "not valid JSON". ``BoundedRequest`` (the app's request class)
reads one byte more when a body stops exactly at the limit: that read raises 413 when more
was sent. So a body may be at most ``MAX_CONTENT_LENGTH - 1`` bytes when chunked.
"""

from __future__ import annotations

from typing import Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream


class BoundedRequest(Request):
    def get_data(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        data = super().get_data(*args, **kwargs)
        stream = self.stream
        chunked = self.content_length is None
        if chunked and isinstance(stream, LimitedStream) and stream.is_exhausted:
            stream.read(1)  # raises RequestEntityTooLarge at a maximum-size limit
            raise RequestEntityTooLarge()  # a stream that did not raise was cut all the same
        return data
