"""Events: the transactional outbox of changes, the feed, and signed webhook delivery.

Features tell this package what a change means (:func:`opsadmin.events.service.watch`); it writes
the event rows in the same transaction as the change and knows no business rule itself.
"""
