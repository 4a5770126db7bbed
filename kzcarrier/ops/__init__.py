"""Operations over collections of numbers (KAZOO's `knm_ops`): their options and results,
the number store with account copies, and dry-run charges.
"""
