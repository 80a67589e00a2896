"""A OneRoster 1.1/1.2 rostering client: auth, paging, parallel fetch, checks and a sandbox SIS.

It knows nothing of Flask or a database and could be published on its own.
"""
