"""The portal: the web pages of the campaign, for a unit's officer and for the leadership.

Server-rendered, Vietnamese first (English by a switch), usable on a phone. It holds no data
of its own: it calls the registry, intake and the aggregator over their HTTP APIs with the
token of the person signed in, kept in a server-side session behind an HttpOnly cookie.
"""
