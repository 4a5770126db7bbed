"""The operator's number toolkit: what `sup kazoo_numbers_maintenance`, the crossbar listing,
the `number_management` CSV tasks, the number crawler and port requests give a KAZOO
operator (reference: kazoo-number-maintenance.md), reading through views in pages."""
