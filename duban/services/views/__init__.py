"""Read-only, scoped views behind the pages, the API and the CLI: one module per view.

Nothing here writes. Every view function takes a Session (the caller owns the transaction)
and reads problems through `duban.services.scoping`'s one access rule (`reach_of`).
"""
