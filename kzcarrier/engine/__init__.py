"""The document-driven engine: the protocol (pure), one request (processor), many fresh
requests at once (batch), the watcher that finds them, and the operator's admin actions.
"""
