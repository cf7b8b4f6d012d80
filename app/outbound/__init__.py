"""Outbound webhooks to the app's services (DESIGN section 7).

`signing` makes Standard Webhooks headers; `addresses` says which URLs and
addresses may be called; `client` makes the HTTP session that enforces that
on every connection it opens.
"""
