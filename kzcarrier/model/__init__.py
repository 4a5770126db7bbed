"""KAZOO's concepts as data: the number document, the state table, who may do what,
system_config lookups and the JSON Schemas. Nothing here calls a carrier.
"""
